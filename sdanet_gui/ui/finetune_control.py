"""One-click fine-tuning in the window: from the Fine-tune button to a new active model version.

Why it exists: the main window is shared by several features, so the whole fine-tuning flow
lives here and the window only holds a few hooks (an action, a toolbar button, a question when
closing). `FinetuneControl(window)`:
  1. `open_dialog()`: needs an open project whose active model version has a checkpoint
     ("load a checkpoint first" otherwise); opens `FinetuneDialog` (window-modal, non-blocking);
  2. `start(options)` (on OK): freezes the training manifest of the chosen videos into
     `project.cache_dir/finetune/`, builds the `FinetuneRequest` (base = the active version's
     checkpoint, out = a new file in `project.checkpoints_dir`) and hands it to a
     `FinetuneRunner` (worker thread -> child process); the training dock shows the run;
  3. on "done": registers the checkpoint as a new model version (parent = the base version)
     and hands it to `window.adopt_model_version` (re-scoring, "previous" lane); the result
     dialog shows held-out mAP before/after and offers "Go back to <base>". On "cancelled" nothing changes. On "failed" an error
     dialog with the job's one-line message and its details; the previous version stays active
     (nothing was registered, the base checkpoint is never written by the job).
  4. `confirm_close()`: while training, closing the window asks, then kills the child.

It touches the project only on the UI thread (freeze, register). It never imports torch: the
child does. `timing` records monotonic times (start, first progress, ...) for the benchmark.
"""

from __future__ import annotations

import logging
import time
from datetime import datetime

from PySide6.QtCore import QObject, Qt
from PySide6.QtWidgets import QDockWidget, QMessageBox

from ..project.child_process import child_threads  # the one thread policy for compute children
from .dialogs import show_error

log = logging.getLogger(__name__)


NO_MODEL_TEXT = ("There is no model to fine-tune: load a checkpoint first (Model > Load checkpoint…), "
                 "or open the demo.")


class FinetuneControl(QObject):
    def __init__(self, window):
        super().__init__(window)
        self.window = window
        self.runner = None         # finetune_worker.FinetuneRunner, made on the first run
        self.dock = None           # training_dock.TrainingDock
        self.dock_widget: QDockWidget | None = None
        self.dialog = None         # the last FinetuneDialog
        self.result_dialog = None  # the last ResultDialog
        self.close_question: QMessageBox | None = None
        self.request = None        # the FinetuneRequest of the current / last run
        self.new_version = None    # the ModelVersion the last "done" registered
        self.last_final: dict | None = None
        self.timing: dict[str, float] = {}
        self._project = None       # the project the current run belongs to
        self._base = None          # its base ModelVersion
        self._started: dict | None = None
        self._evals: dict[str, dict] = {}
        self._closing = False

    # --- state ----------------------------------------------------------------------------------
    def busy(self) -> bool:
        return self.runner is not None and self.runner.busy()

    def _status(self, text: str, ms: int = 0) -> None:
        self.window.statusBar().showMessage(text, ms)

    def base_version(self, project):
        """(ModelVersion, checkpoint Path) to start from; (None, None) without a usable one."""
        mv = project.active_model_version()
        if mv is None or not mv.checkpoint:
            return None, None
        return mv, project.model_checkpoint(mv)

    # --- 1. the start dialog ---------------------------------------------------------------------
    def open_dialog(self):
        """Model > Fine-tune…: the start dialog (returned; tests drive it), or None with the reason
        shown when fine-tuning cannot start now."""
        project = self.window.project
        if project is None:
            self._status("Open a project first: fine-tuning learns from its corrected videos")
            return None
        if self.busy():
            self._show_dock()
            self._status("Fine-tuning is already running: see the Training dock")
            return None
        mv, ckpt = self.base_version(project)
        if mv is None:
            show_error(self.window, "Cannot fine-tune", NO_MODEL_TEXT)
            return None
        if not ckpt.is_file():
            show_error(self.window, "Cannot fine-tune",
                       f"{ckpt}: the checkpoint of model version '{mv.name}' is missing; load a "
                       "checkpoint first (Model > Load checkpoint…).")
            return None
        from .finetune_dialog import FinetuneDialog

        dialog = FinetuneDialog(project, mv.name, self.window)
        dialog.accepted.connect(lambda: self.start(dialog.options()))
        dialog.finished.connect(dialog.deleteLater)
        self.dialog = dialog
        self.timing = {"dialog": time.monotonic()}
        dialog.open()
        return dialog

    # --- 2. starting a run -------------------------------------------------------------------------
    def start(self, options) -> bool:
        """Freeze the manifest, build the request, start the child; False (with a message) when
        it cannot start."""
        from .. import user_settings
        from ..errors import UserError
        from ..project.finetune_job import FinetuneRequest
        from ..project.manifest import freeze_manifest
        from .finetune_dialog import REPLAY_SETTING

        self.timing["start"] = time.monotonic()
        project = self.window.project
        if project is None or self.busy():
            return False
        base, ckpt = self.base_version(project)
        if base is None:
            show_error(self.window, "Cannot fine-tune", NO_MODEL_TEXT)
            return False
        stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
        try:
            user_settings.update(**{REPLAY_SETTING: options.replay})
            work = project.cache_dir / "finetune"
            work.mkdir(parents=True, exist_ok=True)
            project.checkpoints_dir.mkdir(parents=True, exist_ok=True)
            n = 1
            while (project.checkpoints_dir / f"finetune-{stamp}-{n}.pt").exists():
                n += 1
            out = project.checkpoints_dir / f"finetune-{stamp}-{n}.pt"
            manifest = freeze_manifest(project, options.video_ids)
            manifest_path = manifest.write(work / f"manifest-{stamp}-{n}.json")
        except UserError as exc:
            show_error(self.window, "Cannot fine-tune", str(exc))
            return False
        except OSError as exc:
            show_error(self.window, "Cannot fine-tune",
                       f"{project.folder}: cannot write the training files ({exc.strerror or exc})")
            return False
        self.request = FinetuneRequest(
            manifest=str(manifest_path), base_checkpoint=str(ckpt), out_checkpoint=str(out),
            steps=int(options.steps), lr=options.lr, seed=int(options.seed),
            holdout=float(options.holdout), replay=options.replay, threads=child_threads())
        self._project, self._base = project, base
        self._started, self._evals, self.last_final, self.new_version = None, {}, None, None
        self._ensure_runner()
        self._ensure_dock()
        self.dock.begin(f"Fine-tuning {base.name} on {len(options.video_ids)} videos")
        self._show_dock()
        self.runner.start(self.request)
        self._status(f"Fine-tuning {base.name} in the background…")
        log.info("fine-tuning started: %s", self.request)
        return True

    def stop(self) -> None:
        if self.runner is not None:
            self.runner.stop()

    def cancel(self) -> None:
        if self.runner is not None:
            self.runner.cancel()

    def _ensure_runner(self) -> None:
        if self.runner is None:
            from .finetune_worker import FinetuneRunner

            self.runner = FinetuneRunner(self)
            self.runner.started.connect(self._on_started)
            self.runner.progress.connect(self._on_progress)
            self.runner.evaluated.connect(self._on_eval)
            self.runner.done.connect(self._on_done)
            self.runner.cancelled.connect(self._on_cancelled)
            self.runner.failed.connect(self._on_failed)

    def _ensure_dock(self) -> None:
        if self.dock is None:
            from .training_dock import TrainingDock

            self.dock = TrainingDock(self.window)
            self.dock.stop_requested.connect(self.stop)
            self.dock.cancel_requested.connect(self.cancel)
            dock = QDockWidget("Training", self.window)
            dock.setObjectName("trainingDockWidget")
            dock.setWidget(self.dock)
            self.window.addDockWidget(Qt.DockWidgetArea.BottomDockWidgetArea, dock)
            self.window.menu_view.addAction(dock.toggleViewAction())
            self.dock_widget = dock

    def _show_dock(self) -> None:
        if self.dock_widget is not None:
            self.dock_widget.show()
            self.dock_widget.raise_()

    # --- 3. messages from the run ------------------------------------------------------------------
    def _on_started(self, msg: dict) -> None:
        self.timing.setdefault("started", time.monotonic())
        self._started = msg
        self.dock.on_started(msg)

    def _on_progress(self, msg: dict) -> None:
        self.timing.setdefault("first_progress", time.monotonic())
        self.dock.on_progress(msg)

    def _on_eval(self, msg: dict) -> None:
        self._evals[str(msg.get("phase"))] = msg
        self.dock.on_eval(msg)

    def _on_done(self, msg: dict) -> None:
        from ..errors import UserError
        from .finetune_dialog import ResultDialog, summarize

        self.timing["final"] = time.monotonic()
        self.last_final = msg
        if self._closing:
            return
        project, base = self._project, self._base
        if project is None or project.closed:
            self.dock.finish(f"Finished, but the project was closed: the checkpoint is at {msg.get('checkpoint')}")
            return
        name = self._version_name(project, base)
        try:
            mv = project.add_model_version(name, checkpoint=msg["checkpoint"], metrics=msg.get("metrics") or {},
                                           parent_id=(base.id if base else None))
        except UserError as exc:
            self.dock.finish("Finished, but the new version could not be registered")
            show_error(self.window, "Fine-tuning finished, not registered", str(exc))
            return
        self.new_version = mv
        adopt = getattr(self.window, "adopt_model_version", None)
        try:
            if adopt is not None:
                adopt(mv)   # active, re-scored in the background, "previous" lane
            else:           # a window without re-scoring: at least make the version active
                project.set_active_model_version(mv.id)
        except UserError as exc:
            show_error(self.window, "Fine-tuning finished, the new model is not active", str(exc))
        summary = summarize(msg, self._evals, self._started, version_name=mv.name)
        how = "stopped early" if summary.stopped else "finished"
        self.dock.finish(f"{how.capitalize()}: '{mv.name}' is the active model now.")
        self._status(f"Fine-tuning {how}: model version '{mv.name}' is active", 10000)
        self.result_dialog = ResultDialog(summary, self.window, base_name=base.name if base else "",
                                          on_rollback=(lambda: self._rollback(project, base, mv)) if base else None)
        self.result_dialog.finished.connect(self.result_dialog.deleteLater)
        self.result_dialog.open()

    def _on_cancelled(self, msg: dict) -> None:
        self.last_final = msg
        if self._closing:
            return
        name = self._base.name if self._base else "the previous model"
        self.dock.finish(f"Cancelled: nothing was saved; '{name}' stays active.")
        self._status("Fine-tuning cancelled", 8000)

    def _on_failed(self, msg: dict) -> None:
        self.last_final = msg
        if self._closing:
            return
        message = str(msg.get("message") or "fine-tuning failed; the previous model stays active")
        kind = {"nan": "the loss became NaN", "oom": "out of memory", "disk": "cannot write",
                "input": "bad input", "crash": "the training process failed"}.get(msg.get("kind"), "error")
        self.dock.finish(f"Failed ({kind}): the previous model stays active.", detail=message)
        self._status("Fine-tuning failed: the previous model stays active", 10000)
        show_error(self.window, "Fine-tuning failed", message, details=msg.get("details") or None)

    def _rollback(self, project, base, new) -> None:
        """The result dialog's "Go back": the base version is active again (nothing deleted)."""
        if project.closed or self.window.project is not project:
            return
        adopt = getattr(self.window, "adopt_model_version", None)
        if adopt is not None:
            adopt(base)
        else:
            project.set_active_model_version(base.id)
        self._status(f"'{base.name}' is active again; '{new.name}' stays under Model > Versions", 10000)

    @staticmethod
    def _version_name(project, base) -> str:
        stem = base.name if base is not None else "model"
        names = {v.name for v in project.model_versions()}
        n = 1
        while f"{stem} ft{n}" in names:
            n += 1
        return f"{stem} ft{n}"

    # --- 4. closing the window -----------------------------------------------------------------------
    def confirm_close(self) -> bool:
        """True when the window may close: not training, or the user agreed to end the run (the
        child is killed, nothing is registered)."""
        if not self.busy():
            return True
        if self.last_final is not None:  # the run has ended; only its relay thread winds down
            self.shutdown()
            return True
        box = QMessageBox(QMessageBox.Icon.Question, "Fine-tuning is running",
                          "Closing the window ends the fine-tuning run and discards it; the current "
                          "model stays active. Close anyway?",
                          QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.No, self.window)
        box.setObjectName("closeWhileTraining")
        box.setDefaultButton(QMessageBox.StandardButton.No)
        self.close_question = box
        answer = box.exec()
        self.close_question = None
        if answer != QMessageBox.StandardButton.Yes:
            return False
        self.shutdown()
        return True

    def shutdown(self, timeout_s: float = 10.0) -> None:
        """Kill a running child and wait for the worker thread (window closing)."""
        self._closing = True
        if self.runner is not None and self.runner.busy():
            self.runner.kill()
            if not self.runner.wait(timeout_s):
                log.warning("the fine-tuning relay thread did not end within %.0f s", timeout_s)
