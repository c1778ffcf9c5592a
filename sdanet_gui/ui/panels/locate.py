"""Locate…: give a project video whose file is missing (moved, renamed, on an unplugged disk, or
never attached because it came from an annotation file) its file again.

Why its own module: locating is more than setting a path. The chosen file is probed in a worker
thread (the probe decodes every timestamp: hundreds of milliseconds), its fingerprint is
compared with the one stored when the project first saw the video, and a DIFFERENT file is only
accepted after the user says so, because every reviewed frame index will be carried over to it
by time (`Project.locate_video` re-maps them in one transaction). Segments that reach past the
end of the new file are counted and the user is told. Then the video opens.

Entry points: double-click (or Enter) on a missing video in the video list, and the list's
context menu "Locate…" (which also re-links a video that still has a file). The file dialog is
the platform's (`QFileDialog.getOpenFileName`); the "different file" question is a window-modal
QMessageBox kept in `Locator.question` until answered.

Never touches the store from the worker (SQLite belongs to the UI thread); never changes the
project before the user accepted a different file; never imports numpy/media at start-up.
"""

from __future__ import annotations

import logging
from pathlib import Path

from PySide6.QtCore import QObject, Qt, Signal
from PySide6.QtWidgets import QFileDialog, QMenu, QMessageBox

from ...jobs.background import Worker
from ...media import VIDEO_EXTENSIONS
from .dialogs import show_error

log = logging.getLogger(__name__)


class Locator(QObject):
    """Locate… for the videos of the session's project, offered in `video_list`. Signal
    located(video_id) after the store was updated; the video is then opened with `open_video`.
    `status(text)` is where one-line messages go; `post` brings the probe's result back."""

    located = Signal(int)

    def __init__(self, session, video_list, status, open_video, post, parent=None):
        super().__init__(parent or video_list)
        self.session = session
        self.video_list = video_list
        self.status = status
        self.open_video = open_video
        self.question: QMessageBox | None = None  # the open "different file?" question
        self._worker = Worker(post, "video-locator")
        tree = video_list.tree
        tree.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        tree.customContextMenuRequested.connect(self._context_menu)
        video_list.open_requested.connect(self._open_requested)

    @property
    def project(self):
        return self.session.project

    def is_missing(self, video_id: int) -> bool:
        """No file attached, or the attached file is gone."""
        path = self.project.video_path(video_id)
        return path is None or not Path(path).is_file()

    def busy(self) -> bool:
        return self._worker.busy()

    # --- entry points ----------------------------------------------------------------------------
    def _open_requested(self, video_id: int) -> None:
        if self.project is not None and self.is_missing(video_id):
            self.locate(video_id)

    def context_menu(self, video_id: int) -> QMenu:
        """The video list's menu for one video: Open, Locate…"""
        menu = QMenu(self.video_list)
        menu.setObjectName("videoContextMenu")
        missing = self.is_missing(video_id)
        action_open = menu.addAction("&Open")
        action_open.setEnabled(not missing)
        action_open.triggered.connect(lambda: self.open_video(video_id))
        action_locate = menu.addAction("&Locate…")
        action_locate.setObjectName("locateAction")
        action_locate.setToolTip("Choose the video file of this entry (moved or renamed files)")
        action_locate.triggered.connect(lambda: self.locate(video_id))
        if missing:
            menu.setDefaultAction(action_locate)
        return menu

    def _context_menu(self, pos) -> None:
        tree = self.video_list.tree
        item = tree.itemAt(pos)
        vid = item.data(0, Qt.ItemDataRole.UserRole) if item is not None else None
        if vid is None or self.project is None:
            return
        menu = self.context_menu(int(vid))
        menu.aboutToHide.connect(menu.deleteLater)
        menu.popup(tree.viewport().mapToGlobal(pos))

    def locate(self, video_id: int, path=None) -> None:
        """Ask for the file of `video_id` (or take `path`), probe it in a worker, then locate."""
        rec = self.project.video(video_id)
        if path is None:
            stored = self.project.video_path(video_id)
            start = next((str(d) for d in (stored.parent, stored.parent.parent) if d.is_dir()), "") \
                if stored is not None else ""
            pattern = " ".join(f"*{e}" for e in sorted(VIDEO_EXTENSIONS))
            path, _ = QFileDialog.getOpenFileName(
                self.video_list.window(), f"Locate the video file of {rec.name}", start,
                f"Videos ({pattern});;All files (*)")
            if not path:
                return
        path = Path(path)
        self.status(f"Checking {path}…")
        folder = Path(self.project.folder)
        self._worker.submit(lambda ctx: self._probe(ctx, video_id, folder, path))

    # --- worker ------------------------------------------------------------------------------------
    def _probe(self, ctx, video_id: int, folder: Path, path: Path) -> None:
        from ...errors import UserError
        from ...project.exchange import probe_for_project

        try:
            probe = probe_for_project(path)
        except UserError as exc:
            ctx.send(self._failed, path, str(exc))
        except Exception as exc:  # noqa: BLE001 - a worker must report, never die silently
            log.exception("probing %s failed", path)
            ctx.send(self._failed, path, f"{path}: cannot be opened as a video ({exc})")
        else:
            ctx.send(self._probed, video_id, folder, probe)

    def _failed(self, path, message: str) -> None:
        self.status(message)
        show_error(self.video_list.window(), "Cannot use this file", message)

    # --- back on the UI thread ----------------------------------------------------------------------
    def _probed(self, video_id: int, folder, probe) -> None:
        project = self.project
        if project is None or Path(project.folder) != Path(folder):
            return  # the project was closed or switched while probing
        rec = project.video(video_id)
        past = segments_past(project, video_id, probe.duration)
        if rec.fingerprint and rec.fingerprint != probe.fingerprint:
            old = f"{rec.frame_count} frames" if rec.frame_count and rec.clock_kind == "decoded" else "an unknown length"
            text = (f"{probe.path} is not the file this project was made with for “{rec.name}” "
                    f"(its content differs: re-encoded, trimmed or another video).\n\n"
                    f"The project's file had {old}; this one has {probe.frame_count} frames. "
                    f"The video's segments will be carried over by time.")
            if past:
                text += (f"\n\n{past} segment{' reaches' if past == 1 else 's reach'} past the end "
                         f"of this file and will be clipped.")
            box = QMessageBox(QMessageBox.Icon.Question, "A different video file", text + "\n\nUse it anyway?",
                              QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.No,
                              self.video_list.window())
            box.setObjectName("locateQuestion")
            box.setDefaultButton(QMessageBox.StandardButton.No)
            box.finished.connect(lambda result: self._answered(box, video_id, probe, past))
            self.question = box
            box.open()
            return
        self._apply(video_id, probe, past, told=False)

    def _answered(self, box: QMessageBox, video_id: int, probe, past: int) -> None:
        accepted = box.standardButton(box.clickedButton()) == QMessageBox.StandardButton.Yes
        self.question = None
        box.deleteLater()
        if accepted and self.project is not None:
            self._apply(video_id, probe, past, told=True)
        else:
            self.status(f"{probe.path}: not used")

    def _apply(self, video_id: int, probe, past: int, told: bool) -> None:
        """Locate (one transaction), refresh the list, open the video. `told`: the question
        already said how many segments get clipped; otherwise a dialog says it."""
        from ...errors import UserError

        try:
            rec = self.session.locate_video(video_id, probe)
        except UserError as exc:
            show_error(self.video_list.window(), "Cannot locate the video", str(exc))
            return
        message = f"{rec.name}: located at {probe.path}"
        if past:
            message += f" ({past} segment{'' if past == 1 else 's'} past its end clipped)"
            if not told:
                show_error(self.video_list.window(), "Some segments did not fit the video", message)
        self.status(message)
        self.located.emit(video_id)
        self.open_video(video_id)


def segments_past(project, video_id: int, duration: float) -> int:
    """How many human segments of a video end after `duration` seconds (more than half a frame)."""
    from ...data.units import constant_frame_to_seconds

    rec = project.video(video_id)
    slack = constant_frame_to_seconds(0.5, rec.fps) if rec.fps else 0.0
    return sum(1 for s in project.segments(video_id) if project.segment_seconds(s)[1] > duration + slack)
