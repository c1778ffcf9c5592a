"""Where settings, caches, user data and logs live: the platform's directories (platformdirs).

`SDANET_GUI_HOME` redirects all four under one folder; tests and benchmarks use it so that they
never touch the real user's files.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

APP_NAME = "sdanet-gui"
APP_AUTHOR = "sdanet"


@dataclass(frozen=True)
class AppPaths:
    config: Path
    cache: Path
    data: Path
    log: Path

    @property
    def log_file(self) -> Path:
        return self.log / "sdanet-gui.log"

    @property
    def settings_file(self) -> Path:
        return self.config / "settings.json"

    @property
    def default_projects(self) -> Path:
        return self.data / "projects"

    def as_dict(self) -> dict[str, str]:
        return {"config": str(self.config), "cache": str(self.cache), "data": str(self.data),
                "log": str(self.log)}


def app_paths() -> AppPaths:
    home = os.environ.get("SDANET_GUI_HOME")
    if home:
        base = Path(home)
        return AppPaths(base / "config", base / "cache", base / "data", base / "log")
    import platformdirs

    d = platformdirs.PlatformDirs(APP_NAME, APP_AUTHOR)
    return AppPaths(Path(d.user_config_dir), Path(d.user_cache_dir), Path(d.user_data_dir),
                    Path(d.user_log_dir))
