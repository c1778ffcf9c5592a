"""Opening videos off the owner's thread: probe, open the reader, fingerprint.

Probing and opening a video takes hundreds of milliseconds (the probe decodes timestamps), so
`VideoOpening(post, on_opened, on_failed).open(paths)` does it as a `background.Worker` task and
reports each video on the owner's thread: `on_opened(path, reader, fingerprint)` (the receiver
owns the reader and must close it) or `on_failed(path, message)`. It never touches the project
store; heavy imports (decord, av) happen in the worker, on first use.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Callable

from .background import Post, TaskContext, Worker

log = logging.getLogger(__name__)


class VideoOpening:
    def __init__(self, post: Post, on_opened: Callable, on_failed: Callable):
        self.on_opened = on_opened
        self.on_failed = on_failed
        self._worker = Worker(post, "video-opener")

    def open(self, paths) -> None:
        paths = [Path(p) for p in paths]
        self._worker.submit(lambda ctx: self._open(ctx, paths))

    def busy(self) -> bool:
        return self._worker.busy()

    def _open(self, ctx: TaskContext, paths: list[Path]) -> None:
        from ..errors import UserError
        from ..media.fingerprint import fingerprint
        from ..media.reader import open_video

        for path in paths:
            try:
                reader = open_video(path)
                fp = fingerprint(path)
            except UserError as exc:
                ctx.send(self.on_failed, path, str(exc))
            except Exception as exc:  # noqa: BLE001 - a worker must report, never die silently
                log.exception("opening %s failed", path)
                ctx.send(self.on_failed, path, f"{path}: cannot be opened ({exc})")
            else:
                ctx.send(self.on_opened, path, reader, fp)
