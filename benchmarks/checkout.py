"""Import `sdanet_gui` from another checkout in this process (for before/after measurements).

Why it exists: `pip install -e .` registers an import hook that maps `sdanet_gui` to this
checkout ahead of PYTHONPATH, so pointing PYTHONPATH at another checkout (e.g. a `git worktree`
of main) silently measures this one. `use_checkout(DIR)` removes that hook and puts DIR first;
it must run before anything imports `sdanet_gui`.
"""

from __future__ import annotations

import importlib
import sys
from pathlib import Path


def use_checkout(root: str | Path) -> Path:
    """Make `import sdanet_gui` load `root/sdanet_gui`; returns the package folder it will use."""
    root = Path(root).resolve()
    if not (root / "sdanet_gui" / "__init__.py").is_file():
        raise SystemExit(f"{root}: not a checkout of this project (no sdanet_gui/ there)")
    if any(name == "sdanet_gui" or name.startswith("sdanet_gui.") for name in sys.modules):
        raise SystemExit("use_checkout() must run before sdanet_gui is imported")
    sys.meta_path[:] = [f for f in sys.meta_path
                        if not getattr(f, "__module__", "").startswith("__editable__")]
    sys.path.insert(0, str(root))
    import importlib.util

    package = importlib.import_module("sdanet_gui")
    # pyproject.toml installs model/ and resources/ as sdanet_gui.model / sdanet_gui.resources.
    for sub in ("model", "resources"):
        folder = root / sub
        init = folder / "__init__.py"
        spec = importlib.util.spec_from_file_location(
            f"sdanet_gui.{sub}", init if init.is_file() else folder / "__missing__.py",
            submodule_search_locations=[str(folder)])
        module = importlib.util.module_from_spec(spec)
        if init.is_file():
            spec.loader.exec_module(module)
        sys.modules[spec.name] = module
        setattr(package, sub, module)
    return root / "sdanet_gui"
