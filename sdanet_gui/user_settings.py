"""The user's application settings (not a project's): one JSON file, `app_paths().settings_file`.

Why one place: the I3D weights folder, recent files, window layout, keyboard shortcuts and the
replay feature set for fine-tuning are all per-user choices that must survive restarts and be
editable by hand. Qt's QSettings would hide them in a platform registry; this file is plain JSON
next to the log, redirected by SDANET_GUI_HOME in tests, and replaced atomically so a crash or a
full disk never leaves half a file.

A missing or unreadable file reads as empty settings (logged, never raised): a broken settings
file must not keep the application from starting. Writes raise UserError (full disk, read-only).
Values must be JSON-able (window geometry: base64 text).
"""

from __future__ import annotations

import json
import logging
import threading

from .atomic import write_text
from .paths import app_paths

log = logging.getLogger(__name__)
_lock = threading.Lock()


def load() -> dict:
    path = app_paths().settings_file
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return {}
    except (OSError, ValueError) as exc:
        log.warning("%s: ignoring unreadable settings (%s)", path, exc)
        return {}
    if not isinstance(data, dict):
        log.warning("%s: ignoring settings that are not a JSON object", path)
        return {}
    return data


def get(key: str, default=None):
    return load().get(key, default)


def update(**values) -> None:
    """Set keys (None removes a key) and write the file atomically."""
    with _lock:
        data = load()
        for key, value in values.items():
            if value is None:
                data.pop(key, None)
            else:
                data[key] = value
        write_text(app_paths().settings_file, json.dumps(data, indent=2, sort_keys=True) + "\n")
