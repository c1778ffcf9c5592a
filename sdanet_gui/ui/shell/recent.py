"""File > Open Recent: the projects and files the user opened lately, most recent first.

Why its own module: the list is per user (not per project), survives restarts, and is kept in
`user_settings` under "recent" as plain JSON (`[{"path": ..., "kind": "project" | "file"}, ...]`)
so it can be read and edited by hand. The menu is rebuilt from that file each time it is about to
open, never at start-up, so a long or broken list costs the launch nothing; entries whose path
no longer exists are shown disabled ("not found") instead of failing when chosen.

This module never opens anything itself: choosing an entry hands its path to the window's
`open_paths`, exactly as if it had been dropped. It never raises on a bad settings file
(`user_settings.load` reads it as empty) and never stores more than MAX_RECENT per kind.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Callable

from PySide6.QtWidgets import QMenu, QWidget

from ... import user_settings
from ...errors import UserError
from ...session.opening import PROJECT_MARKER

log = logging.getLogger(__name__)

RECENT_KEY = "recent"
MAX_RECENT = 10
KINDS = ("project", "file")


def recent_entries(kind: str | None = None) -> list[dict]:
    """The stored entries, most recent first (`kind`: only projects or only files); malformed
    entries in a hand-edited file are skipped."""
    raw = user_settings.get(RECENT_KEY, [])
    out = []
    for entry in raw if isinstance(raw, list) else []:
        if (isinstance(entry, dict) and isinstance(entry.get("path"), str) and entry["path"]
                and entry.get("kind") in KINDS and (kind is None or entry["kind"] == kind)):
            out.append({"path": entry["path"], "kind": entry["kind"]})
    return out


def add_recent(paths, kind: str) -> None:
    """Put `paths` (one path or several) at the top of the `kind` list, without duplicates (the
    same file under another spelling counts once), keeping at most MAX_RECENT per kind. One
    settings write for all of them. A settings file that cannot be written is logged: the
    recent list is a convenience and must never stop an open."""
    if kind not in KINDS:
        raise ValueError(f"kind must be one of {KINDS}, got {kind!r}")
    if isinstance(paths, (str, os.PathLike)):
        paths = [paths]
    new = [_normal(p) for p in paths]
    if not new:
        return
    keep = [e for e in recent_entries() if not (e["kind"] == kind and e["path"] in new)]
    entries = [{"path": p, "kind": kind} for p in dict.fromkeys(new)] + keep
    counts = dict.fromkeys(KINDS, 0)
    trimmed = []
    for e in entries:
        counts[e["kind"]] += 1
        if counts[e["kind"]] <= MAX_RECENT:
            trimmed.append(e)
    try:
        user_settings.update(**{RECENT_KEY: trimmed})
    except UserError as exc:
        log.warning("cannot remember recent %ss: %s", kind, exc)


def remember_opened(paths) -> None:
    """Record what the user opened (dropped, File > Open…, command line): files and folders as
    "file" entries; project folders are recorded when they are opened (`add_recent(.., "project")`)."""
    files = [p for p in paths if Path(p).exists() and not (Path(p) / PROJECT_MARKER).is_file()]
    if files:
        add_recent(files, "file")


def clear_recent() -> None:
    try:
        user_settings.update(**{RECENT_KEY: None})
    except UserError as exc:
        log.warning("cannot clear the recent list: %s", exc)


def _normal(path) -> str:
    return str(Path(path).expanduser().absolute().resolve())


class RecentMenu(QMenu):
    """File > Open Recent: a "Projects" and a "Files" section (most recent first), then Clear.

    `open_paths(list_of_paths)` is called with the chosen entry. The menu is rebuilt on
    aboutToShow (tests call `rebuild()` directly). Entries that no longer exist are disabled."""

    def __init__(self, parent: QWidget, open_paths: Callable[[list[str]], None]):
        super().__init__("Open &Recent", parent)
        self.setObjectName("recentMenu")
        self._open_paths = open_paths
        self.aboutToShow.connect(self.rebuild)  # not built at start-up: no settings read then

    def rebuild(self) -> None:
        self.clear()
        entries = recent_entries()
        n = 0
        for kind, title in (("project", "Projects"), ("file", "Files")):
            group = [e for e in entries if e["kind"] == kind]
            if not group:
                continue
            self.addSection(title)
            for e in group:
                n += 1
                path = Path(e["path"])
                exists = path.is_dir() if kind == "project" else path.exists()
                if kind == "project" and exists:
                    exists = (path / PROJECT_MARKER).is_file()
                label = f"&{n % 10}  {path.name or e['path']}" if n <= 10 else (path.name or e["path"])
                action = self.addAction(label if exists else f"{label}  (not found)")
                action.setData(e["path"])
                action.setToolTip(e["path"] if exists else f"{e['path']}: no longer exists")
                action.setStatusTip(action.toolTip())
                action.setEnabled(exists)
                action.triggered.connect(lambda _=False, p=e["path"]: self._open_paths([p]))
        if n == 0:
            empty = self.addAction("No recent projects or files")
            empty.setEnabled(False)
        self.addSeparator()
        self.action_clear = self.addAction("&Clear")
        self.action_clear.setObjectName("clearRecent")
        self.action_clear.setEnabled(n > 0)
        self.action_clear.triggered.connect(self._clear)
        self.setToolTipsVisible(True)

    def entry_actions(self) -> list:
        """The actions of the entries (tests, shortcuts), in menu order."""
        return [a for a in self.actions() if isinstance(a.data(), str) and a.data()]

    def _clear(self) -> None:
        clear_recent()
        self.rebuild()
