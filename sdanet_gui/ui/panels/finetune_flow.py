"""One-click fine-tuning in the window: the Fine-tune button's dialogs and dock around the
session's run (`session.finetune`, session/finetuning.py, which owns the run, the files, the
new model version and the rollback).

`FinetuneFlow(session, status, add_dock, parent)`:
  1. `open_dialog()`: needs a project whose active model version has a checkpoint (otherwise a
     dialog says to load one first); opens `FinetuneDialog` (window-modal, non-blocking), which
     says what the run trains on. `open_new_model_dialog()` (Model > New model from this
     project…) opens the same dialog for a cold start; it needs no model;
  2. on OK, `start(options)`: the session prepares and starts the run; the training dock shows it
     (its events: started, progress, evaluated);
  3. when it ends (`finished(FinetuneOutcome)`): done - the result dialog: in use or not and why,
     the held-out figures with what they rest on, "Go back to <base>" (session.finetune.rollback)
     when adopted, "Use anyway" (session.finetune.use_anyway) when not; cancelled - the dock says
     so; failed - an error dialog with the job's message and details;
  4. `confirm_close()`: while training, closing the window asks, then the session kills the child;
  5. `suggest_new_model(classes)`: the checkpoint just loaded lacks classes the project uses: a
     non-modal note offers fine-tuning (which grows them in) or a model of the project's own.

It only shows and asks; it never touches the project or the job itself.
"""

from __future__ import annotations

import logging
import time

from PySide6.QtCore import QObject, Qt
from PySide6.QtWidgets import QMessageBox

from ...errors import UserError
from ...session.finetuning import FAILURE_WORDS, REPLAY_AUTO, REPLAY_SETTING
from ...session.versions import version_label
from ..relay import observe
from .dialogs import show_error

log = logging.getLogger(__name__)


class FinetuneFlow(QObject):
    def __init__(self, session, status, add_dock, parent):
        super().__init__(parent)
        self.session = session
        self.run = session.finetune
        self.status = status
        self.add_dock = add_dock     # (title, widget, area, object_name) -> QDockWidget
        self.parent_widget = parent
        self.dock = None             # training_dock.TrainingDock
        self.dock_widget = None
        self.dialog = None           # the last FinetuneDialog
        self.result_dialog = None    # the last ResultDialog
        self.suggestion = None       # the last "model lacks classes" note
        self.close_question: QMessageBox | None = None
        events = self.run.events
        for event, handler in ((events.started, self._on_started), (events.progress, self._on_progress),
                               (events.evaluated, self._on_eval), (events.finished, self._on_finished)):
            observe(parent, event, handler)

    # --- 1. the start dialog ---------------------------------------------------------------------
    def open_dialog(self):
        """Model > Fine-tune…: the start dialog (returned; tests drive it), or None with the reason
        shown when fine-tuning cannot start now."""
        project = self._ready()
        if project is None:
            return None
        try:
            mv, _ = self.run.base()
        except UserError as exc:
            show_error(self.parent_widget, "Cannot fine-tune", str(exc))
            return None
        return self._open(project, version_label(project, mv), cold_start=False)

    def open_new_model_dialog(self):
        """Model > New model from this project…: the start dialog of a cold start (returned),
        or None with the reason shown."""
        project = self._ready()
        if project is None:
            return None
        current = project.active_model_version()
        return self._open(project, version_label(project, current) if current else "", cold_start=True)

    def _ready(self):
        """The session's project when a run can be set up now; None, with the reason in the
        status line, when there is no project or a run is going on."""
        if self.session.project is None:
            self.status("Open a project first: a model learns from its reviewed videos")
            return None
        if self.run.busy():
            self._show_dock()
            self.status("Training is already running: see the Training dock")
            return None
        return self.session.project

    def _open(self, project, base_label: str, *, cold_start: bool):
        from .finetune_dialog import FinetuneDialog

        dialog = FinetuneDialog(project, base_label, self.parent_widget, freeze=self.run.freeze,
                                cold_start=cold_start)
        dialog.accepted.connect(lambda: self.start(dialog.options()))
        dialog.finished.connect(dialog.deleteLater)
        self.dialog = dialog
        self.run.timing = {"dialog": time.monotonic()}
        dialog.open()
        return dialog

    # --- 2. starting a run -------------------------------------------------------------------------
    def start(self, options) -> bool:
        """Start the run (False, with the reason in a dialog, when it cannot start)."""
        from ... import user_settings

        try:
            if options.replay != REPLAY_AUTO and not options.cold_start:   # a set the user named
                user_settings.update(**{REPLAY_SETTING: options.replay})
            plan = self.run.start(options)
        except UserError as exc:
            show_error(self.parent_widget, "Cannot train" if options.cold_start else "Cannot fine-tune", str(exc))
            return False
        videos = len(options.video_ids or plan.manifest.videos)
        if options.cold_start:
            title = f"Training a new model on {videos} videos"
        else:
            title = f"Fine-tuning {plan.base.name if plan.base is not None else 'the model'} on {videos} videos"
        self._ensure_dock()
        self.dock.begin(title)
        self._show_dock()
        self.status(f"{title} in the background…")
        return True

    def _ensure_dock(self) -> None:
        if self.dock is None:
            from .training_dock import TrainingDock

            self.dock = TrainingDock(self.parent_widget)
            self.dock.stop_requested.connect(self.run.stop)
            self.dock.cancel_requested.connect(self.run.cancel)
            self.dock_widget = self.add_dock("Training", self.dock, Qt.DockWidgetArea.BottomDockWidgetArea,
                                             "trainingDockWidget")

    def _show_dock(self) -> None:
        if self.dock_widget is not None:
            self.dock_widget.show()
            self.dock_widget.raise_()

    # --- 3. what the run reports ---------------------------------------------------------------------
    def _on_started(self, msg: dict) -> None:
        self.dock.on_started(msg)

    def _on_progress(self, msg: dict) -> None:
        self.dock.on_progress(msg)

    def _on_eval(self, msg: dict) -> None:
        self.dock.on_eval(msg)

    def _on_finished(self, outcome) -> None:
        from .finetune_dialog import ResultDialog

        if outcome.kind == "cancelled":
            self.dock.finish(f"Cancelled: nothing was saved; '{outcome.base.name if outcome.base else 'the previous model'}' "
                             f"stays active.")
            self.status("Fine-tuning cancelled", 8000)
        elif outcome.kind == "failed":
            kind = FAILURE_WORDS.get(outcome.final.get("kind"), "error")
            self.dock.finish(f"Failed ({kind}): the previous model stays active.", detail=outcome.message)
            self.status("Fine-tuning failed: the previous model stays active", 10000)
            show_error(self.parent_widget, "Fine-tuning failed", outcome.message, details=outcome.details or None)
        elif outcome.kind == "unregistered":
            self.dock.finish(outcome.message[0].upper() + outcome.message[1:])
            show_error(self.parent_widget, "Fine-tuning finished, not registered", outcome.message)
        else:
            how = "stopped early" if outcome.summary.stopped else "finished"
            new, base = outcome.new_version.name, outcome.base
            if outcome.adopted:
                self.dock.finish(f"{how.capitalize()}: '{new}' is the active model now.")
            else:
                self.dock.finish(f"{how.capitalize()}: '{new}' is not in use"
                                 + (f"; '{base.name}' stays active." if base else "."),
                                 detail=outcome.decision.reason if outcome.decision else "")
            self.status(outcome.message[0].upper() + outcome.message[1:], 10000)
            self.result_dialog = ResultDialog(outcome.summary, self.parent_widget, decision=outcome.decision,
                                              base_name=base.name if base else "",
                                              on_rollback=self.run.rollback if base else None,
                                              on_use_anyway=self.run.use_anyway)
            self.result_dialog.finished.connect(self.result_dialog.deleteLater)
            self.result_dialog.open()

    # --- 5. a model without the project's classes --------------------------------------------------
    def suggest_new_model(self, classes) -> None:
        """The checkpoint just loaded does not know `classes` of the project's segments: say so
        and offer the two ways (non-modal; the window keeps working)."""
        box = QMessageBox(QMessageBox.Icon.Information, "The model lacks classes of this project",
                          f"The model just loaded does not know {len(classes)} class(es) your segments use: "
                          f"{', '.join(classes[:8])}{' …' if len(classes) > 8 else ''}. Its predictions "
                          f"will never show them. Fine-tuning adds them to it (it learns them from your "
                          f"reviewed videos); or train a new model of this project's own.",
                          QMessageBox.StandardButton.NoButton, self.parent_widget)
        box.setObjectName("modelLacksClasses")
        new_model = box.addButton("New model from this project…", QMessageBox.ButtonRole.AcceptRole)
        finetune = box.addButton("Fine-tune…", QMessageBox.ButtonRole.ActionRole)
        box.addButton("Later", QMessageBox.ButtonRole.RejectRole)

        def chosen(button):
            if button is new_model:
                self.open_new_model_dialog()
            elif button is finetune:
                self.open_dialog()

        box.buttonClicked.connect(chosen)
        box.finished.connect(box.deleteLater)
        self.suggestion = box
        box.open()

    # --- 4. closing the window -----------------------------------------------------------------------
    def confirm_close(self) -> bool:
        """True when the window may close: not training, or the user agreed to end the run (the
        child is killed, nothing is registered)."""
        if not self.run.busy():
            return True
        if self.run.last_final is not None:  # the run has ended; only its relay winds down
            self.run.shutdown()
            return True
        box = QMessageBox(QMessageBox.Icon.Question, "Fine-tuning is running",
                          "Closing the window ends the fine-tuning run and discards it; the current "
                          "model stays active. Close anyway?",
                          QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.No, self.parent_widget)
        box.setObjectName("closeWhileTraining")
        box.setDefaultButton(QMessageBox.StandardButton.No)
        self.close_question = box
        answer = box.exec()
        self.close_question = None
        if answer != QMessageBox.StandardButton.Yes:
            return False
        self.run.shutdown()
        return True
