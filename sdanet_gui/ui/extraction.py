"""Feature extraction from the window: videos without features get them in a worker thread, with
progress, a Cancel button, and then scores from the checkpoint that asked for them.

Why it exists: a video dropped on the window is useless to SDANet until it has features, and the
features must be the kind the checkpoint was trained on. The checkpoint's feature spec decides
the extractor (`extractor_for_spec`): 256-d appearance+motion = `tiny`, 2048-d RGB+flow = `i3d`;
anything else is a clear error, as is i3d without its weight files (the message of
`media.i3d.resolve_weights_dir`, naming the files and the folder).

Threads: `ExtractionWorker` is a QObject moved into its own QThread; it reads the checkpoint's
metadata (torch is imported there, never in the UI thread), builds the extractor once and runs
`media.extract.extract_features` per video. It never touches the project store (SQLite belongs
to the UI thread): it reports each written file with `extracted(video_id, path)` and
`FeatureExtraction` (UI thread) records it as the video's `feature_ref`. Cancel sets an event the
extractor polls between snippets; a cancelled video leaves no file (files are written
atomically), videos finished before the cancel keep theirs.

Files go to `<project>/features/<extractor>/<video file stem>.h5` (a second video with the same
file stem gets `.../v<video id>/`). This module never decides post-processing or scoring
details: after a successful run it hands over to the window (`load_checkpoint` for the checkpoint
that asked, `adopt_model_version` for the active version), which scores what lacks scores.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from PySide6.QtCore import QEvent, QObject, QThread, Signal, Slot
from PySide6.QtWidgets import (QDialog, QHBoxLayout, QLabel, QMessageBox, QProgressBar, QPushButton,
                               QVBoxLayout)

from .dialogs import show_error

log = logging.getLogger(__name__)

FEATURES_FOLDER = "features"
PROGRESS_INTERVAL_S = 0.05  # at most ~20 progress signals a second reach the UI thread

# extractor name -> (feature dims per modality, short description for the user)
EXTRACTOR_DIMS = {"tiny": (128, 128), "i3d": (1024, 1024)}
EXTRACTOR_LABELS = {
    "i3d": "I3D (2048-d RGB + flow, needs the pytorch-i3d weight files)",
    "tiny": "tiny (256-d, built-in demo extractor, no weights)",
}


@dataclass(frozen=True)
class ExtractionJob:
    """One video to extract: the project's id and name, its file, and the folder to write in."""

    video_id: int
    name: str
    video_path: Path
    out_dir: Path


def extractor_for_spec(spec, checkpoint=None) -> str:
    """The extractor ("tiny" | "i3d") whose output has the checkpoint's feature spec; UserError if none.

    Dims decide (per modality, e.g. [1024, 1024] = i3d); the snippet grid (fps, snippet and
    stride frames) must match too, or the features would not line up with the model's snippets.
    """
    from ..errors import UserError
    from ..media.i3d import I3DExtractor
    from ..media.tiny_extractor import TinyExtractor

    dims = tuple(d for _, d in spec.modalities)
    where = f"{checkpoint}: " if checkpoint else ""
    for name, ext_spec in (("tiny", TinyExtractor.spec), ("i3d", I3DExtractor.spec)):
        if dims == EXTRACTOR_DIMS[name]:
            grid = (float(spec.fps), spec.snippet_frames, spec.stride_frames)
            want = (float(ext_spec.fps), ext_spec.snippet_frames, ext_spec.stride_frames)
            if grid != want:
                raise UserError(
                    f"{where}the model was trained on {name} features of {spec.snippet_frames}-frame "
                    f"snippets every {spec.stride_frames} frames at {spec.fps:g} fps, but the {name} "
                    f"extractor makes {want[1]}-frame snippets every {want[2]} frames at {want[0]:g} fps; "
                    f"extract such features yourself and import them")
            return name
    described = " + ".join(f"{m} {d}" for m, d in spec.modalities)
    raise UserError(
        f"{where}the model expects {spec.feature_dim}-d features ({described}); this program can "
        f"extract 2048-d I3D features (rgb 1024 + flow 1024) or 256-d tiny features (appearance 128 "
        f"+ motion 128) only. Extract matching features with the tool the model was trained with "
        f"and import them")


def videos_without_features(project) -> list:
    """The project's located videos whose file exists and that have no readable feature file."""
    out = []
    for v in project.videos():
        path = project.video_path(v.id)
        if path is None or not Path(path).is_file():
            continue
        if v.feature_ref:
            ref = Path(v.feature_ref)
            ref = ref if ref.is_absolute() else Path(project.folder) / ref
            if ref.is_file():
                continue
        out.append(v)
    return out


def plan_jobs(project, videos, extractor: str) -> list[ExtractionJob]:
    """Where each video's features go (see the module docstring for the layout)."""
    base = Path(project.folder) / FEATURES_FOLDER / extractor
    jobs, stems = [], set()
    for v in videos:
        path = Path(project.video_path(v.id))
        out_dir = base if path.stem not in stems else base / f"v{v.id}"
        stems.add(path.stem)
        jobs.append(ExtractionJob(v.id, v.name, path, out_dir))
    return jobs


def feature_ref_for(project, path: Path) -> str:
    """The feature_ref to store: relative to the project folder when inside it (movable projects)."""
    try:
        return Path(path).resolve().relative_to(Path(project.folder).resolve()).as_posix()
    except ValueError:
        return str(Path(path).resolve())


# --- the worker (its own thread) ------------------------------------------------------------------
class ExtractionWorker(QObject):
    """Extracts features of `jobs` in the thread it was moved to; see the module docstring.

    Signals (received in the UI thread through queued connections):
      started_extractor(name)                  the extractor chosen (for the dialog's title)
      progress(video_index, video_count, name, snippets_done, snippets_total)
      extracted(video_id, feature_file_path)   one video done (file written, or a cache hit)
      video_failed(name, message)              one video could not be extracted; the others go on
      failed(message)                          nothing can be extracted (checkpoint, weights)
      finished(cancelled)                      always last
    """

    started_extractor = Signal(str)
    progress = Signal(int, int, str, int, int)
    extracted = Signal(int, str)
    video_failed = Signal(str, str)
    failed = Signal(str)
    finished = Signal(bool)

    def __init__(self, jobs_for, *, checkpoint=None, extractor: str | None = None):
        """`jobs_for(extractor_name) -> [ExtractionJob]` is computed in the UI thread before the
        start for both extractors (a plain function of paths), so the worker never asks the project."""
        super().__init__()
        self.jobs_for = jobs_for
        self.checkpoint = Path(checkpoint) if checkpoint is not None else None
        self.extractor_name = extractor
        self.cancel_event = threading.Event()

    @Slot()
    def run(self) -> None:
        from ..errors import Cancelled, UserError

        cancelled = False
        try:
            cancelled = self._run()
        except Cancelled:
            cancelled = True
        except UserError as exc:
            self.failed.emit(str(exc))
        except Exception as exc:  # noqa: BLE001 - reported in a dialog; the window lives on
            log.exception("feature extraction failed")
            self.failed.emit(f"feature extraction failed ({type(exc).__name__}: {exc})")
        finally:
            self.finished.emit(cancelled)

    def _run(self) -> bool:
        from ..errors import Cancelled, UserError
        from ..media.extract import extract_features, make_extractor
        from ..torch_import import import_torch

        name = self.extractor_name
        if name is None:
            from ..sdanet.checkpoint import load_checkpoint

            import_torch()  # loads without freezing the UI (torch_import)
            _, meta = load_checkpoint(self.checkpoint)
            name = extractor_for_spec(meta.feature_spec, self.checkpoint)
        if name == "i3d":
            from ..media.i3d import resolve_weights_dir

            resolve_weights_dir()  # the precise "which files, where" message before importing torch
            import_torch()
        jobs = self.jobs_for(name)
        self.started_extractor.emit(name)
        extractor = make_extractor(name)
        for i, job in enumerate(jobs):
            if self.cancel_event.is_set():
                return True
            last = [0.0]

            def progress(done, total, i=i, job=job, last=last):
                now = time.monotonic()
                if done >= total or now - last[0] >= PROGRESS_INTERVAL_S:
                    last[0] = now
                    self.progress.emit(i, len(jobs), job.name, int(done), int(total))

            self.progress.emit(i, len(jobs), job.name, 0, 0)
            try:
                out = extract_features(job.video_path, job.out_dir, extractor=extractor,
                                       progress=progress, cancel=self.cancel_event)
            except Cancelled:
                return True
            except UserError as exc:
                self.video_failed.emit(job.name, str(exc))
                continue
            self.extracted.emit(job.video_id, str(out))
        return False


# --- the UI side -------------------------------------------------------------------------------------
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
    """Runs one extraction at a time for a window (UI thread); records feature_ref as files arrive.

    Signals: progress(...) as the worker's; finished(cancelled, extracted video ids).
    Attributes for the window and the tests: `dialog` (ExtractionDialog while running),
    `checkpoint` (the checkpoint that asked, or None), `extractor` (chosen name), `errors`.
    """

    progress = Signal(int, int, str, int, int)
    finished = Signal(bool, list)

    def __init__(self, window):
        super().__init__(window)
        self.window = window
        self._thread: QThread | None = None
        self._worker: ExtractionWorker | None = None
        self.dialog: ExtractionDialog | None = None
        self.checkpoint: Path | None = None
        self.extractor: str | None = None
        self.done_ids: list[int] = []
        self.errors: list[str] = []
        self._project = None
        self._then = None
        window.installEventFilter(self)

    def busy(self) -> bool:
        return self._thread is not None

    def start(self, project, videos, *, checkpoint=None, extractor: str | None = None,
              then=None) -> bool:
        """Extract `videos` (VideoRecords) of `project`; the extractor is `extractor` or the one
        `checkpoint` needs. `then()` runs (UI thread) when the run ended uncancelled with features
        for at least one video, to score them (see the window hooks below). False (and a status
        message) if one is already running."""
        if self.busy():
            self.window.statusBar().showMessage("Feature extraction is already running")
            return False
        if checkpoint is None and extractor is None:
            raise ValueError("give a checkpoint or an extractor name")
        videos = list(videos)
        plans = {name: plan_jobs(project, videos, name) for name in EXTRACTOR_DIMS}
        self._project, self.checkpoint = project, Path(checkpoint) if checkpoint else None
        self.extractor, self.done_ids, self.errors = extractor, [], []
        self._then = then
        worker = ExtractionWorker(plans.__getitem__, checkpoint=checkpoint, extractor=extractor)
        thread = QThread(self)
        thread.setObjectName("sdanet-extraction")
        worker.moveToThread(thread)
        thread.started.connect(worker.run)
        worker.started_extractor.connect(self._started_extractor)
        worker.progress.connect(self._progress)
        worker.extracted.connect(self._extracted)
        worker.video_failed.connect(self._video_failed)
        worker.failed.connect(self._failed)
        worker.finished.connect(self._finished)
        self._thread, self._worker = thread, worker

        self.dialog = ExtractionDialog(self.window)
        self.dialog.cancel_button.clicked.connect(self.cancel)
        self.dialog.overall_bar.setRange(0, len(videos))
        self.dialog.title.setText(f"Extracting features of {len(videos)} video(s)"
                                  + (f" for {self.checkpoint.name}" if self.checkpoint else ""))
        self.dialog.show()
        self.window.statusBar().showMessage(f"Extracting features of {len(videos)} video(s)…")
        log.info("extracting features of %d videos (%s)", len(videos),
                 extractor or f"extractor for {checkpoint}")
        thread.start()
        return True

    def cancel(self) -> None:
        if self._worker is not None and not self._worker.cancel_event.is_set():
            self._worker.cancel_event.set()
            if self.dialog is not None:
                self.dialog.cancel_button.setEnabled(False)
                self.dialog.cancel_button.setText("Cancelling…")
            self.window.statusBar().showMessage("Cancelling feature extraction…")

    def shutdown(self, timeout_ms: int = 30000) -> None:
        """Cancel and wait for the thread (the window is closing)."""
        if self._thread is not None:
            self.cancel()
            self._thread.quit()
            self._thread.wait(timeout_ms)

    def eventFilter(self, obj, event):  # noqa: N802 - the window closes: stop the worker first
        if obj is self.window and event.type() == QEvent.Type.Close:
            self.shutdown()
        return False

    # --- worker signals (UI thread) --------------------------------------------------------------
    @Slot(str)
    def _started_extractor(self, name: str) -> None:
        self.extractor = name
        if self.dialog is not None:
            self.dialog.setWindowTitle(f"Extracting features ({name})")

    @Slot(int, int, str, int, int)
    def _progress(self, index, count, name, done, total) -> None:
        if self.dialog is not None:
            self.dialog.show_progress(index, count, name, done, total)
        self.progress.emit(index, count, name, done, total)

    @Slot(int, str)
    def _extracted(self, video_id: int, path: str) -> None:
        project = self._project
        if project is None or project.closed:
            log.info("features written to %s; the project was closed meanwhile", path)
            return
        project.set_video_fields(video_id, feature_ref=feature_ref_for(project, Path(path)))
        self.done_ids.append(video_id)
        log.info("features of %s: %s", project.video(video_id).name, path)

    @Slot(str, str)
    def _video_failed(self, name: str, message: str) -> None:
        self.errors.append(message)

    @Slot(str)
    def _failed(self, message: str) -> None:
        self.errors.append(message)

    @Slot(bool)
    def _finished(self, cancelled: bool) -> None:
        thread, worker = self._thread, self._worker
        self._thread = self._worker = None
        thread.quit()
        thread.wait()
        worker.deleteLater()
        thread.deleteLater()
        if self.dialog is not None:
            self.dialog.cancel_button.clicked.disconnect(self.cancel)
            self.dialog.hide()
            self.dialog.deleteLater()
            self.dialog = None
        n = len(self.done_ids)
        status = self.window.statusBar()
        if cancelled:
            status.showMessage(f"Feature extraction cancelled; {n} video(s) got features")
        elif self.errors:
            status.showMessage(f"Features extracted for {n} video(s); {len(self.errors)} problem(s)")
            show_error(self.window, "Cannot extract features", "\n\n".join(self.errors[:10]))
        else:
            status.showMessage(f"Features extracted for {n} video(s)")
        self.finished.emit(cancelled, list(self.done_ids))
        then, self._then = self._then, None
        if (then is not None and not cancelled and self.done_ids and self._project is self.window.project
                and not self._project.closed):
            then()  # also after some videos failed: the others are scored


# --- window hooks ----------------------------------------------------------------------------------
def extraction_of(window) -> FeatureExtraction:
    """The window's FeatureExtraction (created on first use)."""
    ext = getattr(window, "_extraction", None)
    if ext is None:
        ext = window._extraction = FeatureExtraction(window)
    return ext


def active_checkpoint(window):
    """(model version, checkpoint path) of the project's active model version, or (None, None)."""
    project = window.project
    mv = project.active_model_version() if project is not None else None
    path = project.model_checkpoint(mv) if mv is not None else None
    return (mv, path) if path is not None and path.is_file() else (None, None)


def offer_extraction(window, checkpoint) -> bool:
    """Model > Load checkpoint…: if videos lack features, ask (non-modal) to extract them and
    then load the checkpoint (`window.load_checkpoint`, which scores). True if the question was
    asked (the caller stops there), False if every video has features (the caller loads it)."""
    project = window.project
    missing = videos_without_features(project) if project is not None else []
    if not missing:
        return False
    total = len([v for v in project.videos() if v.located])
    have = window._feature_files()
    box = QMessageBox(QMessageBox.Icon.Question, "Extract features?",
                      f"{len(missing)} of {total} video(s) have no features yet. Extract them now with "
                      f"the extractor {Path(checkpoint).name} was trained on (in the background, "
                      f"with Cancel), then score?", QMessageBox.StandardButton.NoButton, window)
    box.setObjectName("extractOffer")
    extract = box.addButton("Extract and score", QMessageBox.ButtonRole.AcceptRole)
    others = box.addButton(f"Score the other {len(have)} only", QMessageBox.ButtonRole.ActionRole) if have else None
    box.addButton(QMessageBox.StandardButton.Cancel)
    box.setDefaultButton(extract)

    def chosen(button):
        if button is extract:
            extraction_of(window).start(project, missing, checkpoint=checkpoint,
                                        then=lambda: window.load_checkpoint(checkpoint))
        elif others is not None and button is others:
            window.load_checkpoint(checkpoint)

    box.buttonClicked.connect(chosen)
    box.finished.connect(box.deleteLater)
    box.open()
    return True


def extract_features_action(window) -> None:
    """Model > Extract features…: extract for the videos without features, with the extractor
    the active model version's checkpoint needs (then that version scores them), or the one the
    user picks when the project has no usable version."""
    project = window.project
    if project is None:
        window.statusBar().showMessage("Open videos first: there is nothing to extract features from")
        return
    missing = videos_without_features(project)
    if not missing:
        window.statusBar().showMessage("Every video of the project already has features")
        return
    mv, checkpoint = active_checkpoint(window)
    if checkpoint is not None:  # then the active version scores the videos that lack its scores
        extraction_of(window).start(project, missing, checkpoint=checkpoint,
                                    then=lambda: window.adopt_model_version(mv))
        return
    box = QMessageBox(QMessageBox.Icon.Question, "Extract features",
                      f"{len(missing)} video(s) have no features. No checkpoint is loaded, so choose "
                      f"the extractor (a checkpoint loaded later needs features of its own kind).",
                      QMessageBox.StandardButton.NoButton, window)
    box.setObjectName("extractorChoice")
    buttons = {box.addButton(label, QMessageBox.ButtonRole.AcceptRole): name
               for name, label in EXTRACTOR_LABELS.items()}
    box.addButton(QMessageBox.StandardButton.Cancel)

    def chosen(button):
        name = buttons.get(button)
        if name is not None:
            extraction_of(window).start(project, missing, extractor=name)

    box.buttonClicked.connect(chosen)
    box.finished.connect(box.deleteLater)
    box.open()
