"""The main window: menus, the drop target, the empty state shown before anything is open, and
the review area (player + timeline) with its docks (videos, segments, undo history).

Start-up stays light: the review area (pyqtgraph, numpy-heavy timeline) and the media layer are
imported on the first video, never at window creation. Videos are opened in a worker thread
(`opening.VideoOpener`); the project store is only touched from the UI thread. The window holds
no segment data of its own: the open `Project` does.
"""

from __future__ import annotations

import logging
from datetime import datetime
from pathlib import Path

from PySide6.QtCore import Qt
from PySide6.QtGui import QAction, QKeySequence, QUndoGroup
from PySide6.QtWidgets import QDockWidget, QFileDialog, QLabel, QMainWindow, QStackedWidget

from .dialogs import show_about, show_error
from .opening import VideoOpener, classify_paths

log = logging.getLogger(__name__)

EMPTY_STATE_TEXT = "Drop videos, a folder or a project here"
DEFAULT_CLASS = "action"
POSTPROCESS_KEY = "postprocess"  # = postprocess_panel.SETTING_KEY (not imported at start-up)


class MainWindow(QMainWindow):
    def __init__(self):
        super().__init__()
        self.setWindowTitle("SDANet Review")
        self.setObjectName("mainWindow")
        self.resize(1280, 800)
        self.setAcceptDrops(True)
        self.project = None
        self.review = None  # ReviewView, built on the first video
        self.reader = None
        self.current_video_id: int | None = None
        self._show_next: set[Path] = set()
        self.undo_group = QUndoGroup(self)
        self.opener = VideoOpener(self)
        self.opener.opened.connect(self._video_opened)
        self.opener.failed.connect(self._video_failed)
        self.scores: dict = {}  # video name -> scoring.VideoResult of the last scoring run
        self._applied: set[str] = set()  # video names whose predictions of that run are stored
        self._model_version = None
        self._scoring = None  # ScoringWorker, created on first use

        self._stack = QStackedWidget(self)
        self.empty_state = QLabel(
            f"<h2>{EMPTY_STATE_TEXT}</h2><p>or use File &gt; Open… / Open Project…</p>", self)
        self.empty_state.setObjectName("emptyState")
        self.empty_state.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self._stack.addWidget(self.empty_state)
        self.setCentralWidget(self._stack)
        self._build_docks()
        self._build_menus()
        self.statusBar().showMessage("Ready")

    # --- menus and docks ----------------------------------------------------------------------
    def _build_docks(self) -> None:
        from .docks import SegmentTable, VideoList

        self.video_list = VideoList(self)
        self.video_list.open_requested.connect(self.open_video_id)
        self.video_dock = self._dock("Videos", self.video_list, Qt.DockWidgetArea.LeftDockWidgetArea)
        self.segment_table = SegmentTable(self)
        self.segment_table.segment_chosen.connect(self._segment_chosen)
        self.segment_table.edit_requested.connect(
            lambda sid, field, text: self.review is not None and self.review.editor.edit_field(sid, field, text))
        self.segment_dock = self._dock("Segments", self.segment_table, Qt.DockWidgetArea.RightDockWidgetArea)
        from PySide6.QtWidgets import QUndoView

        self.undo_view = QUndoView(self.undo_group, self)
        self.undo_view.setEmptyLabel("<opened>")
        self.undo_dock = self._dock("History", self.undo_view, Qt.DockWidgetArea.RightDockWidgetArea)
        self.postprocess = None  # PostProcessPanel, built with the first project (numpy, engine)
        self.postprocess_dock = None
        for dock in (self.video_dock, self.segment_dock, self.undo_dock):
            dock.hide()

    def _dock(self, title: str, widget, area) -> QDockWidget:
        dock = QDockWidget(title, self)
        dock.setObjectName(f"{title.lower()}Dock")
        dock.setWidget(widget)
        self.addDockWidget(area, dock)
        return dock

    def _build_menus(self) -> None:
        bar = self.menuBar()
        self.menu_file = bar.addMenu("&File")
        self.menu_edit = bar.addMenu("&Edit")
        self.menu_view = bar.addMenu("&View")
        self.menu_model = bar.addMenu("&Model")
        self.menu_help = bar.addMenu("&Help")

        self.action_open = QAction("&Open…", self)
        self.action_open.setShortcut(QKeySequence.StandardKey.Open)
        self.action_open.triggered.connect(self._open_dialog)
        self.action_open_project = QAction("Open &Project…", self)
        self.action_open_project.setShortcut(QKeySequence("Ctrl+Shift+O"))
        self.action_open_project.triggered.connect(self._open_project_dialog)
        self.menu_file.addAction(self.action_open)
        self.menu_file.addAction(self.action_open_project)
        self.action_export = QAction("&Export…", self)
        self.action_export.setShortcut(QKeySequence("Ctrl+E"))
        self.action_export.triggered.connect(self.export_dialog)
        self.menu_file.addAction(self.action_export)
        self.menu_file.addSeparator()

        self.action_quit = QAction("&Quit", self)
        self.action_quit.setShortcut(QKeySequence.StandardKey.Quit)
        self.action_quit.setMenuRole(QAction.MenuRole.QuitRole)
        self.action_quit.triggered.connect(self.close)
        self.menu_file.addAction(self.action_quit)

        self.action_undo = self.undo_group.createUndoAction(self, "&Undo")
        self.action_undo.setShortcut(QKeySequence.StandardKey.Undo)
        self.action_redo = self.undo_group.createRedoAction(self, "&Redo")
        self.action_redo.setShortcuts([QKeySequence("Ctrl+Shift+Z"), QKeySequence.StandardKey.Redo])
        self.menu_edit.addAction(self.action_undo)
        self.menu_edit.addAction(self.action_redo)

        for dock in (self.video_dock, self.segment_dock, self.undo_dock):
            self.menu_view.addAction(dock.toggleViewAction())
        self.action_fit = QAction("&Fit timeline to video", self)
        self.action_fit.triggered.connect(lambda: self.review and self.review.timeline.fit())
        self.menu_view.addAction(self.action_fit)
        self.action_prediction_filter = QAction("&Hide low-score predictions…", self)
        self.action_prediction_filter.setToolTip("Set the display filter of predicted segments")
        self.action_prediction_filter.triggered.connect(self._focus_prediction_filter)
        self.menu_view.addAction(self.action_prediction_filter)

        self.action_load_checkpoint = QAction("&Load checkpoint…", self)
        self.action_load_checkpoint.triggered.connect(self._load_checkpoint_dialog)
        self.menu_model.addAction(self.action_load_checkpoint)

        self.action_about = QAction("&About SDANet Review", self)
        self.action_about.setMenuRole(QAction.MenuRole.AboutRole)
        self.action_about.triggered.connect(lambda: show_about(self))
        self.menu_help.addAction(self.action_about)
        self.action_keys = QAction("&Keyboard shortcuts", self)
        self.action_keys.triggered.connect(self._show_keys)
        self.menu_help.addAction(self.action_keys)

    def _focus_prediction_filter(self) -> None:
        """View menu: put the cursor in the review bar's prediction filter (prediction_filter)."""
        if self.review is None:
            self.statusBar().showMessage("Open a video first: the filter applies to its predictions")
            return
        self.review.filter_spin.setFocus()
        self.review.filter_spin.selectAll()

    def _show_keys(self) -> None:
        from PySide6.QtWidgets import QMessageBox

        from .review_view import KEYMAP_HELP

        rows = "".join(f"<tr><td><b>{k}</b></td><td>{v}</td></tr>" for k, v in KEYMAP_HELP)
        QMessageBox.information(self, "Keyboard shortcuts", f"<table cellspacing=4>{rows}</table>")

    # --- opening things ---------------------------------------------------------------------
    def open_paths(self, paths) -> None:
        """Open what was dropped / given: project folders, videos, folders of videos."""
        for p in paths:
            log.info("open requested: %s", Path(p))
        found = classify_paths(paths)
        problems = [f"{p}: not found" for p in found.missing]
        if found.projects:
            self.open_project(found.projects[0])
        for path in found.other:  # annotation files: imported into the (new) project
            problems += self.import_annotations(path)
        if found.videos:
            self._show_next.add(found.videos[0])  # the first dropped video is shown
            self.statusBar().showMessage(f"Opening {len(found.videos)} video(s)…")
            self.opener.open(found.videos)
        if problems:
            self.statusBar().showMessage(problems[0])
            if len(problems) > 1 or not (found.videos or found.projects):
                show_error(self, "Cannot open", "\n".join(problems[:10]))

    def import_annotations(self, path) -> list[str]:
        """Import an annotation file into the open project (a new one if none); [] or problems."""
        from ..errors import UserError
        from ..project.exchange import import_annotations

        project = self._ensure_project(default_class=False)
        try:
            report = import_annotations(project, path)
        except UserError as exc:
            return [str(exc)]
        self.video_list.set_project(project, self.current_video_id)
        if self.review is not None and self.current_video_id is not None:
            self.review.editor.refresh()
        self.statusBar().showMessage(report.summary())
        log.info("%s", report.summary())
        return []

    def open_demo(self) -> None:
        """A ready review: the bundled demo videos in a new project, scored by the demo model."""
        import json

        from ..bundled import model_files, resource_files
        from ..paths import app_paths
        from ..project.store import Project

        demo = Path(str(resource_files() / "demo"))
        checkpoint = Path(str(model_files() / "demo.pt"))
        videos = sorted((demo / "videos").glob("*.mp4"))
        if not videos or not checkpoint.is_file():
            show_error(self, "Demo not available", f"{demo}: the demo videos or {checkpoint.name} are missing")
            return
        classes = json.loads((demo / "annotations.json").read_text()).get("class_list", [])
        folder = app_paths().default_projects / datetime.now().strftime("Demo %Y-%m-%d %H%M%S")
        project = Project.create(folder)
        project.add_classes(classes)
        self._set_project(project)
        self._show_next.add(videos[0])
        self.opener.open(videos)
        features = {v.stem: demo / "features" / f"{v.stem}.h5" for v in videos}
        self.score(checkpoint, features)
        self.statusBar().showMessage(f"Demo project in {folder}: scoring {len(videos)} videos…")

    # --- scoring -------------------------------------------------------------------------------
    def score(self, checkpoint, features: dict) -> None:
        """Score the videos {name: feature file} with `checkpoint` in the worker thread."""
        from .scoring import ScoringWorker

        if self._scoring is None:
            self._scoring = ScoringWorker(self)
            self._scoring.scored.connect(self._scored)
            self._scoring.failed.connect(lambda msg: show_error(self, "Scoring failed", msg))
            self._scoring.progress.connect(
                lambda done, total: self.statusBar().showMessage(f"Scored {done} / {total} videos"))
        if self._scoring.busy():
            self.statusBar().showMessage("Scoring is already running")
            return
        self.scores, self._applied, self._model_version = {}, set(), None
        self._scoring.start(checkpoint, features)

    def _feature_files(self) -> dict:
        """Feature files of the project's videos that have one (feature_ref)."""
        out = {}
        for v in self.project.videos() if self.project is not None else []:
            if v.feature_ref:
                p = Path(v.feature_ref)
                p = p if p.is_absolute() else Path(self.project.folder) / p
                if p.is_file():
                    out[v.name] = p
        return out

    def _load_checkpoint_dialog(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Load SDANet checkpoint", "", "Checkpoints (*.pt);;All files (*)")
        if not path:
            return
        features = self._feature_files()
        if not features:
            show_error(self, "No features to score",
                       "None of the project's videos has a feature file yet. Extract features "
                       "first (sdanet extract VIDEO... --out FOLDER), then import them, or open "
                       "the demo (sdanet-gui --demo).")
            return
        self.score(path, features)

    def _scored(self, result) -> None:
        self.scores[result.name] = result
        if (self.project is not None and result.params is not None
                and self.project.get_setting(POSTPROCESS_KEY) is None):
            self._ensure_postprocess().set_params(result.params)  # the checkpoint's, until changed
        self._apply_scores(result.name)

    # --- post-processing from the cached scores -------------------------------------------------
    def _ensure_postprocess(self):
        """The post-processing panel and its dock (built on first use, not at start-up)."""
        if self.postprocess is None:
            from .postprocess_panel import PostProcessPanel

            self.postprocess = PostProcessPanel(self)
            self.postprocess.changed.connect(self._postprocess_changed)
            self.postprocess_dock = self._dock("Post-processing", self.postprocess,
                                               Qt.DockWidgetArea.RightDockWidgetArea)
            self.postprocess_dock.hide()
            self.menu_view.insertAction(self.action_fit, self.postprocess_dock.toggleViewAction())
        return self.postprocess

    def _saved_postprocess(self):
        """The project's saved PostProcessing, or None (then the checkpoint's values apply)."""
        from ..sdanet.localization import PostProcessing

        saved = self.project.get_setting(POSTPROCESS_KEY) if self.project is not None else None
        if not isinstance(saved, dict):
            return None
        try:
            return PostProcessing.from_dict(saved)
        except (TypeError, ValueError) as exc:
            log.warning("%s: ignoring the saved post-processing %r (%s)", self.project.folder, saved, exc)
            return None

    def _localized(self, result) -> list:
        """The segments of a scored video under the project's post-processing (cached scores)."""
        from ..sdanet.localization import localize_video

        params = self._saved_postprocess()
        if params is None:
            return list(result.segments)
        return localize_video(result.cas, result.attention, result.spec, result.classes, params)

    def _postprocess_changed(self, params) -> None:
        """A knob moved: save the values, re-localize the shown video from its cached scores
        (no network) and replace its predictions of the current model version."""
        if self.project is None:
            return
        self.project.set_setting(POSTPROCESS_KEY, params.to_dict())
        if self.current_video_id is None:
            return
        rec = self.project.video(self.current_video_id)
        result = self.scores.get(rec.name)
        if result is None or rec.name not in self._applied or self._model_version is None:
            self.postprocess.status.setText("Saved; applies when this video is scored")
            return
        n = self._store_predictions(rec, self._localized(result), replace=True)
        self.postprocess.status.setText(f"{rec.name}: {n} predicted segments")
        if self.review is not None:
            self.review.editor.refresh()
        self.video_list.update_video(self.project, rec.id)

    def _store_predictions(self, rec, segments, replace: bool = False) -> int:
        """Write `segments` (seconds) as rec's predictions of the current model version; with
        `replace`, that version's earlier predictions of rec go (see Project.add_predictions).
        Returns how many were written."""
        project = self.project
        rows = []
        for seg in segments:
            sf, ef = project.seconds_to_frames(rec.id, seg.start, seg.end)
            if ef > sf:
                rows.append((seg.label, sf, ef, float(seg.score or 0.0)))
        return project.add_predictions(self._model_version.id, rec.id, rows, replace=replace)

    def _apply_scores(self, name: str) -> None:
        """Store the predictions of a scored video once it is registered; show its curves."""
        result = self.scores.get(name)
        rec = self.project.find_video(name) if (result and self.project is not None) else None
        if rec is None or name in self._applied:
            return
        self._applied.add(name)
        project = self.project
        project.add_classes(result.classes)
        if self._model_version is None:
            self._model_version = project.add_model_version(result.model_name, checkpoint=result.checkpoint)
        self._store_predictions(rec, self._localized(result))
        self.video_list.set_project(project, self.current_video_id)
        if rec.id == self.current_video_id and self.review is not None:
            self._show_scores(result)
            self.review.editor.refresh()

    def _show_scores(self, result) -> None:
        self.review.timeline.set_model_scores(result.spec, result.cas, result.attention, result.classes)

    def open_project(self, folder) -> None:
        from ..errors import UserError
        from ..project.store import Project

        try:
            project = Project.open(folder)
        except UserError as exc:
            show_error(self, "Cannot open the project", str(exc))
            return
        self._set_project(project)
        self.statusBar().showMessage(f"Opened project {folder}")
        first = next((v for v in project.videos() if v.located), None)
        if first is not None:
            self.open_video_id(first.id)

    def _ensure_project(self, default_class: bool = True):
        if self.project is None:
            from ..paths import app_paths
            from ..project.store import Project

            folder = app_paths().default_projects / datetime.now().strftime("Untitled %Y-%m-%d %H%M%S")
            self._set_project(Project.create(folder))
            self.statusBar().showMessage(f"New project created in {folder}")
            log.info("new project created in %s", folder)
        if default_class and not self.project.classes():  # a lane to draw segments in
            self.project.add_classes([DEFAULT_CLASS])
        return self.project

    def _set_project(self, project) -> None:
        if self.project is not None and self.project is not project:
            self._close_video()
            self.project.close()
        self.project = project
        self.setWindowTitle(f"SDANet Review — {Path(project.folder).name}")
        self.video_dock.show()
        self.video_list.set_project(project)
        saved = self._saved_postprocess()
        if saved is not None:
            self._ensure_postprocess().set_params(saved)
        elif self.postprocess is not None:  # not the previous project's values
            from ..sdanet.localization import PostProcessing

            self.postprocess.set_params(PostProcessing())

    def open_video_id(self, video_id: int) -> None:
        """Show a video of the project (opened in the worker; shown when it arrives)."""
        path = self.project.video_path(video_id)
        if path is None or not Path(path).exists():
            self.statusBar().showMessage(f"{self.project.video(video_id).name}: the video file is missing")
            return
        self._show_next.add(Path(path))
        self.opener.open([path])

    def _video_opened(self, path, reader, fingerprint: str) -> None:
        from ..errors import UserError

        try:
            project = self._ensure_project()
            vid = self._register(project, Path(path), reader, fingerprint)
        except UserError as exc:
            reader.close()
            show_error(self, "Cannot add the video", str(exc))
            return
        self.video_list.set_project(project, self.current_video_id)
        name = project.video(vid).name
        if Path(path) in self._show_next:
            self._show_next.discard(Path(path))
            self._show(reader, vid)
        else:
            reader.close()
        self._apply_scores(name)

    def _register(self, project, path: Path, reader, fingerprint: str) -> int:
        """The project's id for this file: an existing entry (same path) or a new one."""
        for v in project.videos():
            p = project.video_path(v.id)
            if p is not None and Path(p).resolve() == path.resolve():
                return v.id
        name, n = path.stem, 2
        while project.find_video(name) is not None:
            name, n = f"{path.stem} ({n})", n + 1
        clock = reader.clock
        rec = project.add_video(name, path=path, fingerprint=fingerprint, fps=reader.average_fps,
                                frame_count=reader.frame_count, timestamps=clock.timestamps,
                                duration=clock.duration)
        return rec.id

    def _video_failed(self, path, message: str) -> None:
        self._show_next.discard(Path(path))
        self.statusBar().showMessage(message)
        show_error(self, "Cannot open the video", message)

    def _ensure_review(self):
        if self.review is None:
            from .review_view import ReviewView

            self.review = ReviewView(self)
            self._stack.addWidget(self.review)
            self.review.status.connect(lambda text: self.statusBar().showMessage(text, 8000))
            editor = self.review.editor
            self.undo_group.addStack(editor.undo_stack)
            self.undo_group.setActiveStack(editor.undo_stack)
            editor.changed.connect(self._refresh_segments)
            editor.selection_changed.connect(self.segment_table.select_segment)
        return self.review

    def _show(self, reader, video_id: int) -> None:
        review = self._ensure_review()
        self._close_video()
        self.reader, self.current_video_id = reader, video_id
        review.show_video(reader, self.project, video_id)
        result = self.scores.get(self.project.video(video_id).name)
        if result is not None and result.name in self._applied:
            self._show_scores(result)
        self._stack.setCurrentWidget(review)
        self._ensure_postprocess()
        for dock in (self.segment_dock, self.undo_dock, self.postprocess_dock):
            dock.show()
        self.video_list.set_project(self.project, video_id)
        self._refresh_segments()
        review.setFocus()
        rec = self.project.video(video_id)
        self.statusBar().showMessage(
            f"{rec.name}: {reader.frame_count} frames, {reader.average_fps:.3f} fps, "
            f"{reader.width}x{reader.height} — project {self.project.folder}")

    def _close_video(self) -> None:
        if self.review is not None:
            self.review.close_video()
        if self.reader is not None:
            self.reader.close()
        self.reader = None

    def _refresh_segments(self) -> None:
        if self.review is not None and self.current_video_id is not None:
            editor = self.review.editor
            self.segment_table.set_segments(self.project, self.current_video_id, editor.clock,
                                            editor.visible_predictions())
            self.segment_table.select_segment(self.review.editor.selected_id)
            self.video_list.update_video(self.project, self.current_video_id)

    def _segment_chosen(self, seg_id: int) -> None:
        if self.review is None:
            return
        editor = self.review.editor
        editor.select(seg_id)
        start = (self.project.segment(seg_id).start_frame if seg_id > 0
                 else self.project.predicted_segment(-seg_id).start_frame)
        self.review.player.seek_frame(start)

    # --- dialogs -----------------------------------------------------------------------------------
    def export_dialog(self):
        """File > Export…: the ExportDialog (opened window-modal); the written path goes to the
        status bar. Returns the dialog (tests drive it), None without a project."""
        from .export_dialog import ExportDialog

        if self.project is None:
            self.statusBar().showMessage("Open a project or a video first: there is nothing to export")
            return None
        dialog = ExportDialog(self.project, self)
        dialog.accepted.connect(
            lambda: self.statusBar().showMessage(f"Exported to {dialog.written}"))
        dialog.finished.connect(dialog.deleteLater)
        dialog.open()
        return dialog

    def _open_dialog(self) -> None:
        from .opening import VIDEO_EXTENSIONS

        pattern = " ".join(f"*{e}" for e in sorted(VIDEO_EXTENSIONS))
        files, _ = QFileDialog.getOpenFileNames(self, "Open videos", "", f"Videos ({pattern});;All files (*)")
        if files:
            self.open_paths(files)

    def _open_project_dialog(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Open project folder")
        if folder:
            self.open_paths([folder])

    # --- drag and drop, closing -------------------------------------------------------------------
    def dragEnterEvent(self, event):  # noqa: N802
        if event.mimeData().hasUrls():
            event.acceptProposedAction()

    def dropEvent(self, event):  # noqa: N802
        paths = [u.toLocalFile() for u in event.mimeData().urls() if u.isLocalFile()]
        if paths:
            event.acceptProposedAction()
            self.open_paths(paths)

    def closeEvent(self, event):  # noqa: N802
        self._close_video()
        if self.project is not None:
            self.project.close()
            self.project = None
        super().closeEvent(event)
