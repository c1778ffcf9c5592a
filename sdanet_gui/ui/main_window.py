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

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QAction, QKeySequence, QUndoGroup
from PySide6.QtWidgets import QDockWidget, QFileDialog, QLabel, QMainWindow, QStackedWidget

from .dialogs import show_about, show_error
from .opening import VideoOpener, classify_paths

log = logging.getLogger(__name__)

EMPTY_STATE_TEXT = "Drop videos, a folder or a project here"
DEFAULT_CLASS = "action"
POSTPROCESS_KEY = "postprocess"  # = postprocess_panel.SETTING_KEY (not imported at start-up)
PREVIOUS_MODEL_KEY = "previous_model_version"  # project setting: the version before the active one


class MainWindow(QMainWindow):
    model_version_changed = Signal()  # the active / previous version or the change summary changed

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
        self._previous_version = None  # the version active before self._model_version
        self._score_features: dict = {}  # video name -> feature file of the running scoring
        self._pending_change = None  # (previous, new, video names, previous before) until scoring ends
        self._scoring_error = False  # the running scoring reported a failure
        self._discard_results = False  # results of a cancelled run still queued: ignore them
        self._queued_adopt = None  # a version to adopt once the cancelled run has ended
        self.change_summary = None  # model_versions.ChangeSummary of the last version switch
        self.scoring_runs = 0  # network scoring runs started (cached scores need none)
        self._runs_open = 0  # started runs whose finished() has not been handled yet

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
        from .layout_memory import restore_window_layout
        from .locate import Locator

        self.locator = Locator(self)  # ui/locate.py: Locate… for videos whose file is missing
        restore_window_layout(self)  # ui/layout_memory.py: geometry and docks of last time

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
        from .recent import RecentMenu

        self.recent_menu = RecentMenu(self, self.open_paths)  # ui/recent.py: File > Open Recent
        self.menu_file.addMenu(self.recent_menu)
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
        from .shortcut_settings import install as install_shortcut_settings

        install_shortcut_settings(self)  # Edit > Keyboard shortcuts…

        for dock in (self.video_dock, self.segment_dock, self.undo_dock):
            self.menu_view.addAction(dock.toggleViewAction())
        self.action_fit = QAction("&Fit timeline to video", self)
        self.action_fit.triggered.connect(lambda: self.review and self.review.timeline.fit())
        self.menu_view.addAction(self.action_fit)
        self.action_prediction_filter = QAction("&Hide low-score predictions…", self)
        self.action_prediction_filter.setToolTip("Set the display filter of predicted segments")
        self.action_prediction_filter.triggered.connect(self._focus_prediction_filter)
        self.menu_view.addAction(self.action_prediction_filter)
        self.action_show_previous = QAction("Show &previous model's predictions", self)
        self.action_show_previous.setCheckable(True)
        self.action_show_previous.setToolTip("Draw the previous model version's predicted segments "
                                             "above the active version's, to compare them")
        self.action_show_previous.toggled.connect(self._show_previous_toggled)
        self.menu_view.addAction(self.action_show_previous)

        self.action_load_checkpoint = QAction("&Load checkpoint…", self)
        self.action_load_checkpoint.triggered.connect(self._load_checkpoint_dialog)
        self.menu_model.addAction(self.action_load_checkpoint)
        self.action_extract = QAction("&Extract features…", self)  # ui/extraction.py
        self.action_extract.triggered.connect(self._extract_features)
        self.menu_model.addAction(self.action_extract)
        self.action_versions = QAction("&Versions…", self)
        self.action_versions.setToolTip("Model versions with their metrics; make one active (rollback)")
        self.action_versions.triggered.connect(self.versions_dialog)
        self.menu_model.addAction(self.action_versions)
        # Fine-tuning (the flow lives in finetune_control, built on first use)
        self._finetune = None
        self.action_finetune = QAction("&Fine-tune…", self)
        self.action_finetune.setObjectName("actionFinetune")
        self.action_finetune.setToolTip("Train the active model further on your corrections, in the background")
        self.action_finetune.triggered.connect(self.finetune)
        self.menu_model.addAction(self.action_finetune)
        self.toolbar = self.addToolBar("Main")
        self.toolbar.setObjectName("mainToolBar")
        self.toolbar.addAction(self.action_finetune)

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
        from .keymap import show_help

        show_help(self)  # the sheet is generated from the keymap registry (user's keys included)

    # --- opening things ---------------------------------------------------------------------
    def open_paths(self, paths) -> None:
        """Open what was dropped / given: project folders, videos, folders of videos."""
        for p in paths:
            log.info("open requested: %s", Path(p))
        found = classify_paths(paths)
        problems = [f"{p}: not found" for p in found.missing]
        from .feature_drop import attach_features, is_feature_path
        from .recent import remember_opened

        remember_opened(paths)  # ui/recent.py: File > Open Recent
        if found.projects:
            self.open_project(found.projects[0])
        for path in found.other:  # feature files are attached, annotation files imported
            problems += attach_features(self, path) if is_feature_path(path) else self.import_annotations(path)
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
        if report.warning():  # segments past the end of their video: never clipped silently
            show_error(self, "Some segments did not fit their video", report.warning())
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
        mv = project.add_model_version(checkpoint.stem, checkpoint=checkpoint)
        self._make_active(mv, None)  # its scores are cached: reopening the demo needs no network
        self.score(checkpoint, features, model_version=mv)
        self.statusBar().showMessage(f"Demo project in {folder}: scoring {len(videos)} videos…")

    # --- scoring and model versions ------------------------------------------------------------
    # The ACTIVE model version (project setting, Project.active_model_version) is the one whose
    # predictions are stored, shown and whose scores are in self.scores; the version active
    # before it is kept as "previous" (View > Show previous model's predictions). Scores are
    # cached per version (project/score_cache.py), so reopening a project or rolling back never
    # needs the network; only videos without cached scores are scored (ScoringWorker).
    def score(self, checkpoint, features: dict, model_version=None) -> bool:
        """Score the videos {name: feature file} with `checkpoint` in the worker thread. Their
        predictions are stored under `model_version` (None: a new version named after the
        checkpoint, made active on the first result) and their scores cached. False when a
        scoring run is already going on."""
        from .scoring import ScoringWorker

        if self._scoring is None:
            self._scoring = ScoringWorker(self)
            self._scoring.scored.connect(self._scored)
            self._scoring.failed.connect(self._scoring_failed)
            self._scoring.progress.connect(
                lambda done, total: self.statusBar().showMessage(f"Scored {done} / {total} videos"))
            self._scoring.finished.connect(self._scoring_finished)
        if self._scoring.busy():
            self.statusBar().showMessage("Scoring is already running")
            return False
        same = (model_version is not None and self._model_version is not None
                and model_version.id == self._model_version.id)
        if not same:  # other version: its scores replace what is kept
            self.scores, self._applied = {}, set()
        for name in features:
            self.scores.pop(name, None)
            self._applied.discard(name)
        self._model_version = model_version
        self._score_features = {name: Path(p) for name, p in features.items()}
        self._scoring_error = False
        self.scoring_runs += 1
        self._runs_open += 1
        self._scoring.start(checkpoint, features)
        return True

    def scoring_pending(self) -> bool:
        """A scoring run is going on or its last results are still on their way."""
        return self._runs_open > 0

    def active_model_version(self):
        """The project's active ModelVersion, or None (no project / no version)."""
        return self.project.active_model_version() if self.project is not None else None

    def previous_model_version(self):
        """The version that was active before the active one (compared in the previous lane)."""
        return self._previous_version

    def load_checkpoint(self, path) -> None:
        """Model > Load checkpoint: a new model version for the file, made active; the project's
        videos with features are scored with it in the background."""
        features = self._feature_files()
        if not features:
            show_error(self, "No features to score",
                       "None of the project's videos has a feature file yet. Extract features "
                       "first (sdanet extract VIDEO... --out FOLDER), then import them, or open "
                       "the demo (sdanet-gui --demo).")
            return
        mv = self.project.add_model_version(Path(path).stem, checkpoint=path)
        self.adopt_model_version(mv)

    def adopt_model_version(self, mv) -> None:
        """Make `mv` active: its predictions are shown (human segments are never touched). The
        project's videos with features get its scores from the cache, the others are scored in
        the background with its checkpoint and their predictions stored under `mv`; the version
        active before becomes "previous". When scoring ends, the change summary (per video:
        predicted segments added / removed / changed) goes to the status bar, the log and the
        Versions dialog (`change_summary`)."""
        project = self.project
        if project is None:
            return
        mv = project.model_version(mv.id)
        if self._scoring is not None and self._scoring.busy():  # switch once the run has stopped
            self._scoring.cancel()
            self._discard_results, self._queued_adopt = True, mv
            self.statusBar().showMessage(f"Switching to model '{mv.name}' when the running scoring stops…")
            return
        active = project.active_model_version()
        previous = active if active is not None and active.id != mv.id else self._previous_version
        previous_before = self._previous_version
        self._make_active(mv, previous)
        self.scores, self._applied = {}, set()
        features = self._feature_files()
        misses = self._load_cached_scores(mv, features)
        self._pending_change = (self._previous_version, mv, sorted(features), previous_before)
        self._show_active_version()
        if misses:
            checkpoint = project.model_checkpoint(mv)
            if checkpoint is not None and checkpoint.is_file():
                self.score(checkpoint, misses, model_version=mv)
                self.statusBar().showMessage(f"Model '{mv.name}' active: scoring {len(misses)} video(s)…")
                return
            log.warning("%s: checkpoint of model '%s' missing; %d video(s) without cached scores "
                        "not re-scored", project.folder, mv.name, len(misses))
        self._report_changes()

    def _make_active(self, mv, previous) -> None:
        """`mv` becomes the project's active version; `previous` (if another) the previous."""
        self.project.set_active_model_version(mv.id)
        self._model_version = mv
        if previous is not None and previous.id != mv.id:
            self._previous_version = previous
            self.project.set_setting(PREVIOUS_MODEL_KEY, previous.id)
        self.model_version_changed.emit()

    def _restore_model_versions(self) -> None:
        """A project was set: its active version's scores come from the cache (no network)."""
        if self._scoring is not None and self._scoring.busy():  # a run for the last project
            self._scoring.cancel()
            self._discard_results = True
        self.scores, self._applied, self._pending_change = {}, set(), None
        project = self.project
        self._model_version = project.active_model_version()
        self._previous_version = None
        prev = project.get_setting(PREVIOUS_MODEL_KEY)
        if isinstance(prev, int) and self._model_version is not None and prev != self._model_version.id:
            self._previous_version = next((m for m in project.model_versions() if m.id == prev), None)
        if self._model_version is not None:
            self._load_cached_scores(self._model_version, self._feature_files())
        self._sync_editor_versions()
        self.model_version_changed.emit()

    def _load_cached_scores(self, mv, features: dict) -> dict:
        """Put the cached scores of `mv` for `features` ({name: path}) into self.scores; a
        video whose predictions under `mv` are not stored yet gets them from those scores.
        Returns the misses {name: path} (no cached scores)."""
        from ..project.score_cache import ScoreCache
        from ..sdanet.localization import PostProcessing, localize_video
        from .scoring import VideoResult

        cache = ScoreCache.for_project(self.project)
        misses = {}
        for name, path in features.items():
            cached = cache.get(mv.id, path)
            rec = self.project.find_video(name)
            if cached is None or rec is None:
                misses[name] = path
                continue
            params = PostProcessing.from_dict(cached.post) if isinstance(cached.post, dict) else None
            result = VideoResult(name, cached.cas, cached.attention, cached.spec, cached.classes,
                                 [], mv.name, mv.checkpoint or "", params,
                                 modality_attention=cached.modality_attention)
            self.scores[name] = result
            if params is not None and self._saved_postprocess() is None:
                self._ensure_postprocess().set_params(params)  # the checkpoint's, until changed
            if not self.project.predicted_segments(rec.id, mv.id):  # never stored: from the scores
                self.project.add_classes(cached.classes)
                if self._saved_postprocess() is None:
                    result.segments = localize_video(cached.cas, cached.attention, cached.spec,
                                                     cached.classes, params or PostProcessing())
                self._store_predictions(rec, self._localized(result), replace=True)
            self._applied.add(name)
        return misses

    def _cache_scores(self, result, feature_path) -> None:
        from ..errors import UserError
        from ..project.score_cache import CachedScores, ScoreCache

        post = result.params.to_dict() if result.params is not None else None
        try:
            ScoreCache.for_project(self.project).put(
                self._model_version.id, feature_path,
                CachedScores(result.name, result.cas, result.attention, result.spec, list(result.classes),
                             post, getattr(result, "modality_attention", None)))
        except (UserError, ValueError) as exc:  # the scores are still shown; only not kept
            log.warning("scores of %s not cached: %s", result.name, exc)
            self.statusBar().showMessage(f"Scores of {result.name} not cached: {exc}")

    def _show_active_version(self) -> None:
        """Redraw what depends on the active version: lanes, table, curves, video list."""
        self._sync_editor_versions()
        if self.project is None:
            return
        self.video_list.set_project(self.project, self.current_video_id)
        if self.review is not None and self.current_video_id is not None:
            result = self.scores.get(self.project.video(self.current_video_id).name)
            if result is not None and result.name in self._applied:
                self._show_scores(result)
            else:
                self.review.timeline.clear_scores()
            self.review.editor.refresh()

    def _sync_editor_versions(self) -> None:
        if self.review is None:
            return
        editor = self.review.editor
        editor.model_version_id = self._model_version.id if self._model_version is not None else None
        editor.previous_version_id = self._previous_version.id if self._previous_version is not None else None
        editor.show_previous = self.action_show_previous.isChecked()
        previous = self._previous_version if editor.show_previous else None
        self.review.timeline.set_previous_caption(
            None if previous is None else
            f"dashed, above each lane: previous model '{previous.name}'; filled: active "
            f"'{self._model_version.name if self._model_version is not None else '?'}'")

    def _show_previous_toggled(self, on: bool) -> None:
        self._sync_editor_versions()
        if self.review is not None and self.current_video_id is not None:
            self.review.editor.refresh()
        if on and self._previous_version is None:
            self.statusBar().showMessage("No previous model version yet: it appears after switching models")

    def _scoring_failed(self, message: str) -> None:
        self._scoring_error = True
        show_error(self, "Scoring failed", message)

    def _scoring_finished(self) -> None:
        self._runs_open = max(0, self._runs_open - 1)
        if self._discard_results:  # the cancelled run ended (runs are one after the other)
            self._discard_results = False
            queued, self._queued_adopt = self._queued_adopt, None
            if queued is not None:
                self.adopt_model_version(queued)
            return
        if self._runs_open:  # an earlier run's late signal: the current run is still going
            return
        if self._pending_change is None:
            return
        previous, mv, _, previous_before = self._pending_change
        scored_any = any(name in self._applied for name in self._score_features)
        if self._scoring_error and not scored_any and previous is not None:
            # nothing could be scored with the new version: the previous one stays in use
            self._pending_change = None
            self._revert_to(previous, previous_before)
            self.statusBar().showMessage(f"Scoring with model '{mv.name}' failed; model "
                                         f"'{previous.name}' stays active")
            return
        self._report_changes()

    def _revert_to(self, mv, previous) -> None:
        """Back to `mv` as active with `previous` as previous, as before a failed switch."""
        self.project.set_active_model_version(mv.id)
        self._model_version, self._previous_version = mv, previous
        self.project.set_setting(PREVIOUS_MODEL_KEY, previous.id if previous is not None else None)
        self.scores, self._applied = {}, set()
        self._load_cached_scores(mv, self._feature_files())
        self._show_active_version()
        self.model_version_changed.emit()

    def _report_changes(self) -> None:
        """Tell the user what the version switch changed (status bar, log, Versions dialog)."""
        from .model_versions import summarize_change

        if self._pending_change is None or self.project is None:
            return
        previous, mv, names, _ = self._pending_change
        self._pending_change = None
        summary = summarize_change(self.project, previous, mv, names, self._applied)
        self.change_summary = summary
        self.statusBar().showMessage(summary.short_text(), 30000)
        log.info("%s", summary.details_text())
        self.model_version_changed.emit()

    def versions_dialog(self):
        """Model > Versions…: the versions dialog (non-modal, returned for tests); None
        without a project."""
        from .model_versions import ModelVersionsDialog

        if self.project is None:
            self.statusBar().showMessage("Open a project first: model versions belong to a project")
            return None
        dialog = ModelVersionsDialog(self)
        dialog.finished.connect(dialog.deleteLater)
        dialog.show()
        return dialog

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
        if path:
            from .extraction import offer_extraction

            if not offer_extraction(self, path):  # videos without features: offer to extract first
                self.load_checkpoint(path)

    def _extract_features(self) -> None:
        """Model > Extract features…: see ui/extraction.py (worker thread, progress, Cancel)."""
        from .extraction import extract_features_action

        extract_features_action(self)

    def _scored(self, result) -> None:
        if self._discard_results or self.project is None:
            return  # a cancelled run's (or the last project's) result
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
            self.restoreDockWidget(self.postprocess_dock)  # its place from the saved layout
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
        import numpy as np

        project = self.project
        segments = list(segments)
        starts, ends = project.seconds_to_frames(rec.id, np.array([s.start for s in segments], float),
                                                 np.array([s.end for s in segments], float))
        rows = [(seg.label, int(sf), int(ef), float(seg.score or 0.0))
                for seg, sf, ef in zip(segments, starts, ends) if ef > sf]
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
        if self._model_version is None:  # scored without a version: a new one, made active
            mv = project.add_model_version(result.model_name, checkpoint=result.checkpoint)
            self._make_active(mv, project.active_model_version())
            self._sync_editor_versions()
        feature = self._score_features.get(name)
        if feature is not None:
            if not rec.feature_ref:  # the project remembers where this video's features are
                project.set_video_fields(rec.id, feature_ref=str(Path(feature).absolute()))
            self._cache_scores(result, feature)
        self._store_predictions(rec, self._localized(result), replace=True)
        self.video_list.set_project(project, self.current_video_id)
        if rec.id == self.current_video_id and self.review is not None:
            self._show_scores(result)
            self.review.editor.refresh()

    def _show_scores(self, result) -> None:
        self.review.show_model_result(result)  # score curves + review queue ranking

    def open_project(self, folder) -> None:
        from ..errors import UserError
        from ..project.store import Project

        if self.project is not None and Path(self.project.folder).resolve() == Path(folder).resolve():
            self.statusBar().showMessage(f"Project {folder} is already open")
            return
        try:
            project = Project.open(folder)
        except UserError as exc:
            show_error(self, "Cannot open the project", str(exc))
            return
        self._set_project(project)
        self.statusBar().showMessage(f"Opened project {folder}")
        first = next((v for v in project.videos()  # the first video whose file is there
                      if v.located and project.video_path(v.id).is_file()), None)
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
        from .layout_memory import show_docks
        from .recent import add_recent

        show_docks(self, [self.video_dock])  # ui/layout_memory.py: unless the user closed it
        add_recent(project.folder, "project")  # ui/recent.py: File > Open Recent
        if getattr(self, "project_label", None) is None:  # where the project is, always in sight
            self.project_label = QLabel(self)
            self.statusBar().addPermanentWidget(self.project_label)
        self.project_label.setText(f"Project: {project.folder}")
        self.video_list.set_project(project)
        saved = self._saved_postprocess()
        if saved is not None:
            self._ensure_postprocess().set_params(saved)
        elif self.postprocess is not None:  # not the previous project's values
            from ..sdanet.localization import PostProcessing

            self.postprocess.set_params(PostProcessing())
        self._restore_model_versions()  # the active version's cached scores, no network

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
        from .locate import adopt_by_name

        adopted = adopt_by_name(project, path, reader, fingerprint)  # an entry without a file yet
        if adopted is not None:
            return adopted
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
            self._sync_editor_versions()  # which model version's predictions the lanes show
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
        from .layout_memory import restore_position, show_docks

        show_docks(self, [self.segment_dock, self.undo_dock, self.postprocess_dock])  # unless closed
        restore_position(self, video_id)  # where the user left this video (ui/layout_memory.py)
        self.video_list.set_project(self.project, video_id)
        self._refresh_segments()
        review.setFocus()
        rec = self.project.video(video_id)
        self.statusBar().showMessage(
            f"{rec.name}: {reader.frame_count} frames, {reader.average_fps:.3f} fps, "
            f"{reader.width}x{reader.height} — project {self.project.folder}")

    def _close_video(self) -> None:
        from .layout_memory import remember_position

        remember_position(self)  # the playhead of the video being closed, saved in the project
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

    def finetune(self):
        """Model > Fine-tune…: the start dialog (returned), then training in the background."""
        if self._finetune is None:
            from .finetune_control import FinetuneControl

            self._finetune = FinetuneControl(self)
        return self._finetune.open_dialog()

    def closeEvent(self, event):  # noqa: N802
        if self._finetune is not None and not self._finetune.confirm_close():
            event.ignore()  # the user keeps the training running
            return
        from .layout_memory import save_window_layout

        save_window_layout(self)  # geometry and docks, restored at the next start
        if self._scoring is not None:
            self._scoring.shutdown()  # the scoring child process ends with the window
        self._close_video()
        if self.project is not None:
            self.project.close()
            self.project = None
        super().closeEvent(event)
