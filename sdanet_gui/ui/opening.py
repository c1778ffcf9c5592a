"""What a dropped or opened path is, and opening videos off the UI thread.

Probing and opening a video takes hundreds of milliseconds (the probe decodes timestamps), so
`VideoOpener` does it in a plain worker thread and reports back through queued Qt signals. It
never touches the project store: SQLite connections belong to the UI thread, which registers the
opened video itself. Heavy imports (decord, av) happen in the worker, on first use.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass, field
from pathlib import Path

from PySide6.QtCore import QObject, Qt, Signal

log = logging.getLogger(__name__)

VIDEO_EXTENSIONS = frozenset((".mp4", ".m4v", ".mov", ".mkv", ".webm", ".avi", ".mpg", ".mpeg",
                              ".wmv", ".flv", ".ts", ".mts", ".m2ts", ".3gp", ".ogv"))
PROJECT_MARKER = "project.sqlite"


@dataclass
class Dropped:
    """Paths sorted by what they are."""

    projects: list[Path] = field(default_factory=list)
    videos: list[Path] = field(default_factory=list)
    other: list[Path] = field(default_factory=list)
    missing: list[Path] = field(default_factory=list)


def classify_paths(paths) -> Dropped:
    """Project folders, videos (folders searched recursively, video extensions only), the rest
    (files, and folders without videos)."""
    out = Dropped()
    for raw in paths:
        p = Path(raw)
        if not p.exists():
            out.missing.append(p)
        elif p.is_dir() and (p / PROJECT_MARKER).is_file():
            out.projects.append(p)
        elif p.is_dir():
            videos = sorted(f for f in p.rglob("*") if f.is_file() and f.suffix.lower() in VIDEO_EXTENSIONS)
            if videos:
                out.videos.extend(videos)
            else:  # no videos: a folder of annotation files (THUMOS, ELAN, W-TALC) or features
                out.other.append(p)
        elif p.suffix.lower() in VIDEO_EXTENSIONS:
            out.videos.append(p)
        else:
            out.other.append(p)
    return out


class VideoOpener(QObject):
    """Opens videos in a worker thread. Signals (UI thread): opened(path, reader, fingerprint),
    failed(path, message). The receiver owns the reader and must close it."""

    opened = Signal(object, object, str)
    failed = Signal(object, str)

    def __init__(self, parent=None):
        super().__init__(parent)
        self._relay = _Relay()
        self._relay.opened.connect(self.opened, Qt.ConnectionType.QueuedConnection)
        self._relay.failed.connect(self.failed, Qt.ConnectionType.QueuedConnection)
        self._threads: list[threading.Thread] = []

    def open(self, paths) -> None:
        thread = threading.Thread(target=self._run, args=([Path(p) for p in paths],),
                                  name="video-opener", daemon=True)
        self._threads = [t for t in self._threads if t.is_alive()] + [thread]
        thread.start()

    def busy(self) -> bool:
        return any(t.is_alive() for t in self._threads)

    def _run(self, paths: list[Path]) -> None:
        from ..errors import UserError
        from ..media.fingerprint import fingerprint
        from ..media.reader import open_video

        for path in paths:
            try:
                reader = open_video(path)
                fp = fingerprint(path)
            except UserError as exc:
                self._relay.failed.emit(path, str(exc))
            except Exception as exc:  # noqa: BLE001 - a worker must report, never die silently
                log.exception("opening %s failed", path)
                self._relay.failed.emit(path, f"{path}: cannot be opened ({exc})")
            else:
                self._relay.opened.emit(path, reader, fp)


class _Relay(QObject):
    opened = Signal(object, object, str)
    failed = Signal(object, str)
