"""Feature extraction from the window: the progress dialog with Cancel, the questions that offer
an extraction, and what happens after it (the videos get scores).

The work itself is `jobs.extraction.ExtractionRun` (a background task; which extractor a
checkpoint needs, where files go). `FeatureExtraction(session, post, status, parent)` runs one
extraction at a time for the session's project: `start(...)`; Model > Load checkpoint… asks
through `offer(checkpoint)` when videos lack features; Model > Extract features… is
`extract_missing()`. Each written file becomes the video's `feature_ref` (UI thread); after a
successful run the checkpoint that asked is loaded (`session.load_checkpoint`) or the active
version adopted again (`session.adopt`), which scores what lacks scores.
"""

from __future__ import annotations

import logging
from pathlib import Path

from PySide6.QtCore import QObject, Signal
from PySide6.QtWidgets import (QDialog, QHBoxLayout, QLabel, QMessageBox, QProgressBar, QPushButton,
                               QVBoxLayout)

from ...errors import UserError
from ...jobs.extraction import (EXTRACTOR_DIMS, EXTRACTOR_LABELS, ExtractionRun, feature_ref_for,
                                plan_jobs, videos_without_features)
from .dialogs import show_error

log = logging.getLogger(__name__)


class ExtractionDialog(QDialog):
    """Non-modal progress window: the current video's progress, the overall progress, Cancel."""

    def __init__(self, parent=None):
        super().__init__(parent)
        self.setObjectName("extractionDialog")
        self.setWindowTitle("Extracting features")
        self.setModal(False)
        self.title = QLabel("Preparing…", self)
        self.video_label = QLabel("", self)
        self.video_bar = QProgressBar(self)
        self.video_bar.setObjectName("videoProgress")
        self.overall_bar = QProgressBar(self)
        self.overall_bar.setObjectName("overallProgress")
        self.overall_bar.setFormat("%v / %m videos")
        self.cancel_button = QPushButton("Cancel", self)
        self.cancel_button.setObjectName("cancelExtraction")
        buttons = QHBoxLayout()
        buttons.addStretch(1)
        buttons.addWidget(self.cancel_button)
        layout = QVBoxLayout(self)
        for w in (self.title, self.video_label, self.video_bar, QLabel("All videos:", self), self.overall_bar):
            layout.addWidget(w)
        layout.addLayout(buttons)
        self.resize(460, 180)

    def show_progress(self, index: int, count: int, name: str, done: int, total: int) -> None:
        self.video_label.setText(f"{name} ({index + 1} of {count})")
        self.video_bar.setRange(0, max(total, 1))
        self.video_bar.setValue(min(done, max(total, 1)) if total else 0)
        self.overall_bar.setRange(0, count)
        self.overall_bar.setValue(index)

    def closeEvent(self, event):  # noqa: N802 - closing the window = Cancel
        self.cancel_button.click()
        super().closeEvent(event)


class FeatureExtraction(QObject):
    """One extraction at a time for the session's project (UI thread); records feature_ref as
    files arrive. Signals: progress(...) as the run's; finished(cancelled, extracted video ids).
    Attributes for the window and the tests: `dialog` (ExtractionDialog while running),
    `checkpoint` (the checkpoint that asked, or None), `extractor` (chosen name), `errors`."""

    progress = Signal(int, int, str, int, int)
    finished = Signal(bool, list)

    def __init__(self, session, post, status, parent):
        super().__init__(parent)
        self.session = session
        self.status = status
        self.parent_widget = parent
        self.run = ExtractionRun(post, on_extractor=self._started_extractor, on_progress=self._progress,
                                 on_extracted=self._extracted, on_video_failed=self._failed,
                                 on_failed=self._failed, on_finished=self._finished)
        self.dialog: ExtractionDialog | None = None
        self.checkpoint: Path | None = None
        self.extractor: str | None = None
        self.done_ids: list[int] = []
        self.errors: list[str] = []
        self._project = None
        self._then = None
        self._again = False      # a video arrived while a run was going: extract once more after it

    def busy(self) -> bool:
        return self.run.busy()

    def start(self, videos, *, checkpoint=None, extractor: str | None = None, then=None) -> bool:
        """Extract `videos` (VideoRecords) of the session's project with `extractor` or the one
        `checkpoint` needs. `then()` runs (UI thread) when the run ended uncancelled with features
        for at least one video, to score them. False (and a status message) if one is running."""
        if self.busy():
            self.status("Feature extraction is already running")
            return False
        project = self.session.project
        videos = list(videos)
        plans = {name: plan_jobs(project, videos, name) for name in EXTRACTOR_DIMS}
        self._project, self.checkpoint = project, Path(checkpoint) if checkpoint else None
        self.extractor, self.done_ids, self.errors, self._then = extractor, [], [], then
        self.dialog = ExtractionDialog(self.parent_widget)
        self.dialog.cancel_button.clicked.connect(self.cancel)
        self.dialog.overall_bar.setRange(0, len(videos))
        self.dialog.title.setText(f"Extracting features of {len(videos)} video(s)"
                                  + (f" for {self.checkpoint.name}" if self.checkpoint else ""))
        self.dialog.show()
        self.status(f"Extracting features of {len(videos)} video(s)…")
        log.info("extracting features of %d videos (%s)", len(videos), extractor or f"extractor for {checkpoint}")
        self.run.start(plans.__getitem__, checkpoint=checkpoint, extractor=extractor)
        return True

    def cancel(self) -> None:
        if self.busy() and not self.run.cancelling():
            self.run.cancel()
            if self.dialog is not None:
                self.dialog.cancel_button.setEnabled(False)
                self.dialog.cancel_button.setText("Cancelling…")
            self.status("Cancelling feature extraction…")

    def shutdown(self, timeout_s: float = 30.0) -> None:
        """Cancel and wait for the run (the window is closing)."""
        self.run.shutdown(timeout_s)

    # --- the run's reports (UI thread) -----------------------------------------------------------
    def _started_extractor(self, name: str) -> None:
        self.extractor = name
        if self.dialog is not None:
            self.dialog.setWindowTitle(f"Extracting features ({name})")

    def _progress(self, index, count, name, done, total) -> None:
        if self.dialog is not None:
            self.dialog.show_progress(index, count, name, done, total)
        self.progress.emit(index, count, name, done, total)

    def _extracted(self, video_id: int, path: str) -> None:
        project = self._project
        if project is None or project.closed:
            log.info("features written to %s; the project was closed meanwhile", path)
            return
        project.set_video_fields(video_id, feature_ref=feature_ref_for(project, Path(path)))
        self.done_ids.append(video_id)
        log.info("features of %s: %s", project.video(video_id).name, path)

    def _failed(self, *message) -> None:   # (message) or (video name, message)
        self.errors.append(message[-1])

    def _finished(self, cancelled: bool) -> None:
        if self.dialog is not None:
            self.dialog.cancel_button.clicked.disconnect(self.cancel)
            self.dialog.hide()
            self.dialog.deleteLater()
            self.dialog = None
        n = len(self.done_ids)
        if cancelled:
            self.status(f"Feature extraction cancelled; {n} video(s) got features")
        elif self.errors:
            self.status(f"Features extracted for {n} video(s); {len(self.errors)} problem(s)")
            show_error(self.parent_widget, "Cannot extract features", "\n\n".join(self.errors[:10]))
        else:
            self.status(f"Features extracted for {n} video(s)")
        self.finished.emit(cancelled, list(self.done_ids))
        then, self._then = self._then, None
        if (then is not None and not cancelled and self.done_ids and self._project is self.session.project
                and not self._project.closed):
            then()  # also after some videos failed: the others are scored
        again, self._again = self._again, False
        if again and not cancelled:
            self.extract_for_active_model()

    # --- the questions -----------------------------------------------------------------------------
    def offer(self, checkpoint) -> bool:
        """Model > Load checkpoint…: if videos lack features, ask (non-modal) to extract them and
        then load the checkpoint. True if the question was asked (the caller stops there), False
        if every video has features (the caller loads it)."""
        project = self.session.project
        missing = videos_without_features(project) if project is not None else []
        if not missing:
            return False
        total = len([v for v in project.videos() if v.located])
        have = project.feature_files()
        box = QMessageBox(QMessageBox.Icon.Question, "Extract features?",
                          f"{len(missing)} of {total} video(s) have no features yet. Extract them now with "
                          f"the extractor {Path(checkpoint).name} was trained on (in the background, "
                          f"with Cancel), then score?", QMessageBox.StandardButton.NoButton, self.parent_widget)
        box.setObjectName("extractOffer")
        extract = box.addButton("Extract and score", QMessageBox.ButtonRole.AcceptRole)
        others = box.addButton(f"Score the other {len(have)} only", QMessageBox.ButtonRole.ActionRole) if have else None
        box.addButton(QMessageBox.StandardButton.Cancel)
        box.setDefaultButton(extract)

        def chosen(button):
            if button is extract:
                self.start(missing, checkpoint=checkpoint, then=lambda: self._load(checkpoint))
            elif others is not None and button is others:
                self._load(checkpoint)

        box.buttonClicked.connect(chosen)
        box.finished.connect(box.deleteLater)
        box.open()
        return True

    def _load(self, checkpoint) -> None:
        try:
            self.session.load_checkpoint(checkpoint)
        except UserError as exc:
            show_error(self.parent_widget, "No features to score", str(exc))

    def extract_for_active_model(self) -> bool:
        """Without asking: the videos without features get those the active model version needs,
        then its scores (`session.score_missing`). While a run is going, once more after it.
        False when there is nothing to do (no usable model, every video has features)."""
        if self.busy():
            self._again = True
            return False
        project = self.session.project
        checkpoint = self.session.usable_checkpoint()
        missing = videos_without_features(project) if project is not None else []
        if checkpoint is None or not missing:
            return False
        return self.start(missing, checkpoint=checkpoint, then=self.session.score_missing)

    def extract_missing(self) -> None:
        """Model > Extract features…: extract for the videos without features, with the extractor
        the active model version's checkpoint needs (then that version scores them), or the one
        the user picks when the project has no usable version."""
        project = self.session.project
        if project is None:
            self.status("Open videos first: there is nothing to extract features from")
            return
        missing = videos_without_features(project)
        if not missing:
            self.status("Every video of the project already has features")
            return
        mv = project.active_model_version()
        checkpoint = project.model_checkpoint(mv) if mv is not None else None
        if checkpoint is not None and checkpoint.is_file():  # then the active version scores them
            self.start(missing, checkpoint=checkpoint, then=lambda: self.session.adopt(mv))
            return
        box = QMessageBox(QMessageBox.Icon.Question, "Extract features",
                          f"{len(missing)} video(s) have no features. No checkpoint is loaded, so choose "
                          f"the extractor (a checkpoint loaded later needs features of its own kind).",
                          QMessageBox.StandardButton.NoButton, self.parent_widget)
        box.setObjectName("extractorChoice")
        buttons = {box.addButton(label, QMessageBox.ButtonRole.AcceptRole): name
                   for name, label in EXTRACTOR_LABELS.items()}
        box.addButton(QMessageBox.StandardButton.Cancel)

        def chosen(button):
            name = buttons.get(button)
            if name is not None:
                self.start(missing, extractor=name)

        box.buttonClicked.connect(chosen)
        box.finished.connect(box.deleteLater)
        box.open()
