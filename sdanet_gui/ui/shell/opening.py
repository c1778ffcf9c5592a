"""Opening things in the window: what was dropped, given on the command line or chosen in File >
Open…: project folders, videos, folders of videos, feature files, annotation files, the demo.

`OpeningFlow(session, status, show, parent)` decides by kind (session/opening.py), hands projects,
annotation and feature files to the session, and opens videos in a background worker
(jobs/opening.py); an opened video is registered in the session's project (UI thread) and, if it
was the one to show, handed to `show(reader, video_id)`. Problems go to the status line and, when
nothing else opened, to one dialog listing them.
"""

from __future__ import annotations

import logging
from pathlib import Path

from PySide6.QtWidgets import QFileDialog

from ...errors import UserError
from ...jobs.opening import VideoOpening
from ...media import VIDEO_EXTENSIONS
from ...session.opening import classify_paths, feature_files_in
from ..panels.dialogs import show_error

log = logging.getLogger(__name__)


class OpeningFlow:
    def __init__(self, session, post, status, show, parent):
        self.session = session
        self.status = status
        self.show = show             # (reader, video_id): the window shows the video
        self.parent = parent
        self.videos = VideoOpening(post, self._opened, self._failed)
        self._show_next: set[Path] = set()

    def busy(self) -> bool:
        return self.videos.busy()

    def open_paths(self, paths) -> None:
        """Open what was dropped / given: project folders, videos, folders of videos, feature
        files (attached to their videos), annotation files (imported)."""
        for p in paths:
            log.info("open requested: %s", Path(p))
        found = classify_paths(paths)
        problems = [f"{p}: not found" for p in found.missing]
        from .recent import remember_opened

        remember_opened(paths)  # File > Open Recent
        if found.projects:
            self.open_project(found.projects[0])
        for path in found.features:
            problems += self.attach_features(feature_files_in(path))
        for path in found.other:
            problems += self.import_annotations(path)
        if found.videos:
            self.session.reuse_untitled_project(found.videos)  # (no project open: the one that has them)
            self._open_videos(found.videos, show=found.videos[0])  # the first dropped video is shown
            self.status(f"Opening {len(found.videos)} video(s)…")
        if problems:
            self.status(problems[0])
            if len(problems) > 1 or not (found.videos or found.projects):
                show_error(self.parent, "Cannot open", "\n".join(problems[:10]))

    def import_annotations(self, path) -> list[str]:
        """Import an annotation file into the open project (a new one if none); [] or problems."""
        try:
            report = self.session.import_annotations(path)
        except UserError as exc:
            return [str(exc)]
        self.status(report.summary())
        if report.warning():  # segments past the end of their video: never clipped silently
            show_error(self.parent, "Some segments did not fit their video", report.warning())
        return []

    def attach_features(self, files) -> list[str]:
        names, added, problems = self.session.attach_features(files)
        if names:
            text = f"Features attached to {', '.join(names[:3])}{' …' if len(names) > 3 else ''}"
            if added:
                text += f" ({added} new video entr{'y' if added == 1 else 'ies'}: drop or Locate… the video file)"
            self.status(text + "; Model > Load checkpoint… scores them")
        return problems

    def open_demo(self) -> None:
        """A ready review: the bundled demo videos in a new project, scored by the demo model."""
        try:
            videos = self.session.open_demo()
        except UserError as exc:
            show_error(self.parent, "Demo not available", str(exc))
            return
        self._open_videos(videos, show=videos[0])

    def open_project(self, folder) -> None:
        project = self.session.project
        if project is not None and Path(project.folder).resolve() == Path(folder).resolve():
            self.status(f"Project {folder} is already open")
            return
        try:
            project = self.session.open_project(folder)
        except UserError as exc:
            show_error(self.parent, "Cannot open the project", str(exc))
            return
        self.status(f"Opened project {folder}")
        first = next((v for v in project.videos()  # the first video whose file is there
                      if v.located and project.video_path(v.id).is_file()), None)
        if first is not None:
            self.open_video_id(first.id)

    def open_video_id(self, video_id: int) -> None:
        """Show a video of the project (opened in the worker; shown when it arrives)."""
        project = self.session.project
        path = project.video_path(video_id)
        if path is None or not Path(path).exists():
            self.status(f"{project.video(video_id).name}: the video file is missing")
            return
        self._open_videos([path], show=path)

    def open_dialog(self) -> None:
        pattern = " ".join(f"*{e}" for e in sorted(VIDEO_EXTENSIONS))
        files, _ = QFileDialog.getOpenFileNames(self.parent, "Open videos", "",
                                                f"Videos ({pattern});;All files (*)")
        if files:
            self.open_paths(files)

    def open_project_dialog(self) -> None:
        folder = QFileDialog.getExistingDirectory(self.parent, "Open project folder")
        if folder:
            self.open_paths([folder])

    def clean_up_projects(self):
        """File > Clean up empty projects…: the question listing them (returned for tests)."""
        from PySide6.QtWidgets import QMessageBox

        empty = self.session.empty_untitled_projects()
        if not empty:
            self.status("No empty untitled projects to clean up")
            return None
        names = "\n".join(f.name for f in empty[:15]) + ("\n…" if len(empty) > 15 else "")
        box = QMessageBox(QMessageBox.Icon.Question, "Clean up empty projects",
                          f"Remove {len(empty)} untitled project(s) that hold no video, segment or "
                          f"model?\n\n{names}", QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.No, self.parent)
        box.setObjectName("cleanUpProjects")

        def answered(button):
            if box.standardButton(button) == QMessageBox.StandardButton.Yes:
                removed = self.session.remove_empty_projects(empty)
                self.status(f"Removed {len(removed)} empty project(s)")

        box.buttonClicked.connect(answered)
        box.finished.connect(box.deleteLater)
        box.open()
        return box

    # --- the worker's reports (UI thread) --------------------------------------------------------
    def _open_videos(self, paths, show) -> None:
        self._show_next.add(Path(show))
        self.videos.open(paths)

    def _opened(self, path, reader, fingerprint: str) -> None:
        try:
            vid = self.session.register_video(path, reader, fingerprint)
        except UserError as exc:
            reader.close()
            show_error(self.parent, "Cannot add the video", str(exc))
            return
        if Path(path) in self._show_next:
            self._show_next.discard(Path(path))
            self.show(reader, vid)
        else:
            reader.close()

    def _failed(self, path, message: str) -> None:
        self._show_next.discard(Path(path))
        self.status(message)
        show_error(self.parent, "Cannot open the video", message)
