"""The main window: it builds the rooms (review surface, docks, menus) and wires them to the
review session; it holds no review state of its own.

What a session is (the project, model versions, scores, post-processing, scoring and
fine-tuning runs) lives in `session.ReviewSession`, which the window drives through its methods
and observes through its events; segments live in the project store. The window keeps only what
is on screen: the shown video (`current_video_id`, its reader) and which docks exist.

Start-up stays light: the review surface (pyqtgraph, numpy-heavy timeline), the media layer and
the engine are imported on the first video or the first model, never at window creation.
Videos are opened in a background worker (`jobs.opening`); everything that touches the project
runs on the UI thread (`ui.relay.UiPost` brings background results there).
"""

from __future__ import annotations

import logging
from pathlib import Path

from PySide6.QtCore import QEvent, Qt
from PySide6.QtGui import QUndoGroup
from PySide6.QtWidgets import QApplication, QDockWidget, QFileDialog, QLabel, QMainWindow, QStackedWidget

from ...errors import UserError
from ...session.review_session import ReviewSession
from ..panels.dialogs import show_error
from ..relay import UiPost
from .layout_memory import DockMemory
from .menus import Menus
from .opening import OpeningFlow

log = logging.getLogger(__name__)

EMPTY_STATE_TEXT = "Drop videos, a folder or a project here"


class MainWindow(QMainWindow):
    def __init__(self):
        super().__init__()
        self.setWindowTitle("SDANet Review")
        self.setObjectName("mainWindow")
        self.resize(1280, 800)
        self.setAcceptDrops(True)
        self.post = UiPost(self)
        self.session = ReviewSession(self.post)
        self.review = None            # ReviewView, built on the first video
        self.reader = None            # the shown video's reader
        self.current_video_id: int | None = None
        self.postprocess = None       # PostProcessPanel and its dock, built with the first video
        self.postprocess_dock = None
        self.keys_help_dialog = None
        self.shortcut_dialog = None
        self._warned: set = set()      # damaged videos already reported in this session
        self.undo_group = QUndoGroup(self)
        self.opening = OpeningFlow(self.session, self.post, self.status, self._show, self)

        self._stack = QStackedWidget(self)
        self.empty_state = QLabel(
            f"<h2>{EMPTY_STATE_TEXT}</h2><p>or use File &gt; Open… / Open Project…</p>", self)
        self.empty_state.setObjectName("emptyState")
        self.empty_state.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self._stack.addWidget(self.empty_state)
        self.setCentralWidget(self._stack)
        self._build_docks()
        self.menus = Menus(self)
        self.toolbar = self.menus.toolbar
        self.project_label = QLabel(self)  # where the project is, always in sight
        self.statusBar().addPermanentWidget(self.project_label)
        self.project_label.hide()
        self.status("Ready")
        from ..panels.extraction import FeatureExtraction
        from ..panels.finetune_flow import FinetuneFlow
        from ..panels.locate import Locator

        self.locator = Locator(self.session, self.video_list, self.status, self.open_video_id, self.post)
        self.extraction = FeatureExtraction(self.session, self.post, self.status, self)
        self.finetune_flow = FinetuneFlow(self.session, self.status, self.add_dock, self)
        self._wire_session()
        from PySide6.QtCore import QCoreApplication

        QCoreApplication.instance().aboutToQuit.connect(self._application_quits)
        from .layout_memory import restore_window_layout

        self.dock_memory = DockMemory()
        self._layout_restored = restore_window_layout(self)  # geometry and docks of last time

    @property
    def project(self):
        return self.session.project

    def status(self, text: str, ms: int = 0) -> None:
        """The status sink handed to the panels: one line in the status bar."""
        self.statusBar().showMessage(text, ms)

    # --- building ----------------------------------------------------------------------------------
    def _build_docks(self) -> None:
        from PySide6.QtWidgets import QUndoView

        from ..panels.docks import SegmentTable, VideoList

        self.video_list = VideoList(self)
        self.video_list.open_requested.connect(self.open_video_id)
        self.video_dock = self.add_dock("Videos", self.video_list, Qt.DockWidgetArea.LeftDockWidgetArea)
        self.segment_table = SegmentTable(self)
        self.segment_table.segment_chosen.connect(self._segment_chosen)
        self.segment_table.edit_requested.connect(
            lambda sid, field, text: self.review is not None and self.review.editor.edit_field(sid, field, text))
        self.segment_dock = self.add_dock("Segments", self.segment_table, Qt.DockWidgetArea.RightDockWidgetArea)
        self.undo_view = QUndoView(self.undo_group, self)
        self.undo_view.setEmptyLabel("<opened>")
        self.undo_dock = self.add_dock("History", self.undo_view, Qt.DockWidgetArea.RightDockWidgetArea)
        for dock in (self.video_dock, self.segment_dock, self.undo_dock):
            dock.hide()

    def add_dock(self, title: str, widget, area, object_name: str | None = None) -> QDockWidget:
        """A dock for `widget`; docks built after the menus get a View menu entry too."""
        dock = QDockWidget(title, self)
        dock.setObjectName(object_name or f"{title.lower()}Dock")
        dock.setWidget(widget)
        self.addDockWidget(area, dock)
        if getattr(self, "menus", None) is not None:
            self.menus.view.insertAction(self.menus.fit, dock.toggleViewAction())
            self.restoreDockWidget(dock)  # its place from the saved layout
        return dock

    def review_docks(self) -> list[QDockWidget]:
        return [d for d in (self.video_dock, self.segment_dock, self.undo_dock, self.postprocess_dock)
                if d is not None]

    def _wire_session(self) -> None:
        events = self.session.events
        events.project_closing.connect(lambda project: self._close_video())
        events.project_changed.connect(self._project_changed)
        events.versions_changed.connect(self._sync_editor_versions)
        events.predictions_changed.connect(self._predictions_changed)
        events.videos_changed.connect(self._videos_changed)
        events.postprocess_defaults.connect(
            lambda params: self.postprocess is not None and self.postprocess.set_params(params))
        events.status.connect(self.status)
        events.problem.connect(lambda title, message: show_error(self, title, message))
        # new videos get scores without asking (features first); the timeline says what happens
        events.features_needed.connect(self.extraction.extract_for_active_model)
        events.scoring_started.connect(lambda names: self._scores_on_the_way(names, "Scoring with"))
        self.extraction.progress.connect(
            lambda i, n, name, done, total: self._scores_on_the_way(
                [name], f"Extracting features ({100 * done // max(total, 1)} %) to score with"))
        events.model_lacks_classes.connect(self.finetune_flow.suggest_new_model)

    def _scores_on_the_way(self, names, doing: str) -> None:
        """The shown video has no scores yet but they are coming: say so where the curves go."""
        if self.review is None or self.current_video_id is None or self.session.active is None:
            return
        shown = self.project.video(self.current_video_id).name
        if shown in names and self.session.result(shown) is None:
            self.review.timeline.set_no_scores_text(f"{doing} '{self.session.active.name}'…")

    def ensure_review(self):
        if self.review is None:
            from ..review.review_view import ReviewView

            self.review = ReviewView(self)
            self._stack.addWidget(self.review)
            self.review.status.connect(lambda text: self.status(text, 8000))
            editor = self.review.editor
            self.undo_group.addStack(editor.undo_stack)
            self.undo_group.setActiveStack(editor.undo_stack)
            editor.changed.connect(self._refresh_segments)
            editor.selection_changed.connect(self.segment_table.select_segment)
            self._sync_editor_versions()  # which model version's predictions the lanes show
        return self.review

    def _ensure_postprocess(self):
        """The post-processing panel and its dock (built with the first video, not at start-up)."""
        if self.postprocess is None:
            from ..panels.postprocess_panel import PostProcessPanel

            self.postprocess = PostProcessPanel(self)
            self.postprocess.set_params(self.session.postprocess_params())
            self.postprocess.changed.connect(self._postprocess_changed)
            self.postprocess_dock = self.add_dock("Post-processing", self.postprocess,
                                                  Qt.DockWidgetArea.RightDockWidgetArea)
            self.postprocess_dock.hide()
        return self.postprocess

    # --- reacting to the session ----------------------------------------------------------------------
    def _project_changed(self, project) -> None:
        if project is None:
            return
        from .recent import add_recent

        self.setWindowTitle(f"SDANet Review — {Path(project.folder).name}")
        self.dock_memory.show([self.video_dock])  # unless the user closed it last time
        add_recent(project.folder, "project")     # File > Open Recent
        self.project_label.setText(f"Project: {project.folder}")
        self.project_label.show()
        self.video_list.set_project(project)
        if self.session.saved_postprocess() is not None:
            self._ensure_postprocess()  # the project's values, in sight once a video shows

    def _videos_changed(self) -> None:
        self.video_list.set_project(self.project, self.current_video_id)
        if self.review is not None and self.current_video_id is not None:
            self.review.editor.refresh()

    def _predictions_changed(self, name) -> None:
        """Scores and predictions of video `name` (None: of every video) changed."""
        project = self.project
        if project is None:
            return
        self.video_list.set_project(project, self.current_video_id)
        if self.review is None or self.current_video_id is None:
            return
        shown = project.video(self.current_video_id).name
        if name is None or name == shown:
            self.review.editor.refresh()   # first: a model's classes become lanes the curves go into
            result = self.session.result(shown)
            if result is not None:
                self.review.show_model_result(result)   # score curves + review queue ranking
            elif name is None:
                self.review.timeline.clear_scores()

    def _sync_editor_versions(self) -> None:
        if self.review is None:
            return
        self.review.show_versions(self.session.active, self.session.previous,
                                  self.menus.show_previous.isChecked())

    def set_return_after_edit(self, on: bool) -> None:
        if self.review is not None:
            self.review.editor.set_return_after_edit(on)
        else:
            from ..review.preferences import set_return_after_edit

            set_return_after_edit(on)

    def show_previous_toggled(self, on: bool) -> None:
        self._sync_editor_versions()
        if self.review is not None and self.current_video_id is not None:
            self.review.editor.refresh()
        if on and self.session.previous is None:
            self.status("No previous model version yet: it appears after switching models")

    def _postprocess_changed(self, params) -> None:
        """A knob moved: the session saves it and re-localizes the shown video (no network)."""
        name = self.project.video(self.current_video_id).name if self.current_video_id is not None else None
        n = self.session.set_postprocess(params, name)
        self.postprocess.status.setText("Saved; applies when this video is scored" if n is None
                                        else f"{name}: {n} predicted segments")

    def open_paths(self, paths) -> None:
        """Open what was dropped / given (shell/opening.py decides by kind)."""
        self.opening.open_paths(paths)

    def open_video_id(self, video_id: int) -> None:
        self.opening.open_video_id(video_id)

    # --- the shown video ------------------------------------------------------------------------
    def _show(self, reader, video_id: int) -> None:
        from .layout_memory import saved_position

        review = self.ensure_review()
        self._close_video()
        self.reader, self.current_video_id = reader, video_id
        project = self.project
        review.show_video(reader, project, video_id)
        rec = project.video(video_id)
        result = self.session.result(rec.name)
        if result is not None:
            review.show_model_result(result)
        self._stack.setCurrentWidget(review)
        self._ensure_postprocess()
        new = self.dock_memory.show([self.video_dock, self.segment_dock, self.undo_dock,
                                     self.postprocess_dock])  # unless the user closed them
        if new and not self._layout_restored:  # first time: wide enough for their columns
            sides = [d for d in (self.video_dock, self.segment_dock) if d.isVisible()]
            self.resizeDocks(sides, [d.widget().sizeHint().width() for d in sides], Qt.Orientation.Horizontal)
        seconds = saved_position(project, video_id)  # where the user left this video
        if seconds:
            review.player.seek_seconds(seconds)
        self.video_list.set_project(project, video_id)
        self._refresh_segments()
        # the docks and the review's new minimum width take their place now, not later under the
        # user's mouse (a timeline that moves during a drag puts the boundary elsewhere)
        QApplication.sendPostedEvents(None, QEvent.Type.LayoutRequest)
        review.setFocus()
        self.status(f"{rec.name}: {reader.frame_count} frames, {reader.average_fps:.3f} fps, "
                    f"{reader.width}x{reader.height}")   # (the project's folder is on the right)
        if reader.warning and reader.path not in self._warned:  # a damaged file: say so, once
            self._warned.add(reader.path)
            self.status(f"{rec.name}: {reader.warning}", 30000)
            show_error(self, "Part of the video cannot be decoded", f"{reader.path}: {reader.warning}. "
                       f"Only the frames before that point can be shown and reviewed.")

    def _close_video(self) -> None:
        from .layout_memory import remember_position

        if self.review is not None and self.current_video_id is not None and self.review.player.reader is not None:
            remember_position(self.project, self.current_video_id, self.review.player.seconds())
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
            self.segment_table.select_segment(editor.selected_id)
            self.video_list.update_video(self.project, self.current_video_id)

    def _segment_chosen(self, seg_id: int) -> None:
        if self.review is not None:
            self.review.go_to_segment(seg_id)

    # --- menu commands ---------------------------------------------------------------------------------
    def export_dialog(self):
        """File > Export…: the ExportDialog (window-modal; returned for tests), None without a project."""
        from ..panels.export_dialog import ExportDialog

        if self.project is None:
            self.status("Open a project or a video first: there is nothing to export")
            return None
        dialog = ExportDialog(self.project, self)
        dialog.accepted.connect(lambda: self.status(f"Exported to {dialog.written}"))
        dialog.finished.connect(dialog.deleteLater)
        dialog.open()
        return dialog

    def shortcut_settings_dialog(self):
        """Edit > Keyboard shortcuts…: saved keys apply to the review at once (returned for tests)."""
        from ..panels.shortcut_settings import ShortcutSettingsDialog

        dialog = ShortcutSettingsDialog(self)
        dialog.saved.connect(lambda km: self.review is not None and self.review.reload_shortcuts(km))
        dialog.finished.connect(dialog.deleteLater)
        dialog.open()
        self.shortcut_dialog = dialog
        return dialog

    def fit_timeline(self) -> None:
        if self.review is not None:
            self.review.timeline.fit()

    def focus_prediction_filter(self) -> None:
        """View menu: put the cursor in the review bar's prediction filter."""
        if self.review is None:
            self.status("Open a video first: the filter applies to its predictions")
            return
        self.review.filter_spin.setFocus()
        self.review.filter_spin.selectAll()

    def load_checkpoint_dialog(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Load SDANet checkpoint", "", "Checkpoints (*.pt);;All files (*)")
        if path and not self.extraction.offer(path):  # videos without features: offer to extract first
            self.load_checkpoint(path)

    def load_checkpoint(self, path) -> None:
        """A new active model version for the checkpoint; the videos with features are scored."""
        try:
            self.session.load_checkpoint(path)
        except UserError as exc:
            show_error(self, "No features to score", str(exc))

    def versions_dialog(self):
        """Model > Versions…: the non-modal versions dialog (returned for tests); None without a project."""
        from ..panels.model_versions import ModelVersionsDialog

        if self.project is None:
            self.status("Open a project first: model versions belong to a project")
            return None
        dialog = ModelVersionsDialog(self.session, self)
        dialog.finished.connect(dialog.deleteLater)
        dialog.show()
        return dialog

    def finetune(self):
        """Model > Fine-tune…: the start dialog (returned), then training in the background."""
        return self.finetune_flow.open_dialog()

    def keys_help(self) -> None:
        from ..review.keymap import show_help

        self.keys_help_dialog = show_help(self)  # generated from the keymap (the user's keys included)

    # --- drag and drop, closing -------------------------------------------------------------------
    def dragEnterEvent(self, event):  # noqa: N802
        if event.mimeData().hasUrls():
            event.acceptProposedAction()

    def dropEvent(self, event):  # noqa: N802
        paths = [u.toLocalFile() for u in event.mimeData().urls() if u.isLocalFile()]
        if paths:
            event.acceptProposedAction()
            self.opening.open_paths(paths)

    def _application_quits(self) -> None:
        """The application ends without this window being closed: no child outlives it."""
        self.extraction.shutdown()
        self.session.close()

    def closeEvent(self, event):  # noqa: N802
        if not self.finetune_flow.confirm_close():
            event.ignore()  # the user keeps the training running
            return
        from .layout_memory import save_window_layout

        in_use = self.current_video_id is not None and self.reader is not None
        save_window_layout(self, self.review_docks(), in_use)  # restored at the next start
        self.extraction.shutdown()
        self._close_video()
        self.session.close()
        super().closeEvent(event)
