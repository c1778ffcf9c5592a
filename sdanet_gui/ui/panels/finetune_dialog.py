"""The two dialogs of fine-tuning (and of a model of the project's own): what to train on
before a run, what it achieved after and whether it is in use.

`FinetuneDialog(project, base_name, parent, freeze=..., cold_start=False)`: which videos teach
the model (default: every video with a human segment or a reviewed span; a table shows each
video's human segments, review state and whether it has features), what the chosen videos
train on, per class (segments drawn or edited, confirmed, predictions accepted as they were,
and reviewed background: training_summary.py, from the manifest `freeze(ids)` gives), with
the self-training warning when the material is (mostly) accepted predictions, and how many
fully reviewed videos it can hold out to measure on (fewer than 3: the result will not decide
anything, the current model stays). Under "Advanced": steps, learning rate (blank = the
checkpoint's own), held-out share, seed, and replay (the base's own training set mixed in
against forgetting: by default the one its checkpoint records; another set can be named and is
remembered under the user setting "finetune_replay"). OK stays disabled, with the reason
shown, until the choice can train (a chosen video with human segments and features).
`options()` -> `FinetuneOptions`. With `cold_start`, the same dialog starts "New model from
this project" (no base, no replay, a cold start's steps).

`ResultDialog(summary, decision, parent)`: whether the new version is in use and why (the
adopt rule, session/adoption.py), the held-out average mAP before / after with what it rests
on (videos, segments) and its 95 % bootstrap interval, per class before / after with the
classes clearly made worse named, new classes, the base's own test figure before / after when
replayed; "Use anyway" when it was not adopted, "Go back to <base>" when it was.

Both only read the project (in the UI thread). Neither starts anything: the fine-tuning flow
(finetune_flow.py) hands the options to the session.
"""

from __future__ import annotations

import math
from pathlib import Path

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (QCheckBox, QDialog, QDialogButtonBox, QDoubleSpinBox, QFileDialog, QFormLayout,
                               QHBoxLayout, QHeaderView, QLabel, QLineEdit, QPushButton, QSpinBox,
                               QTableWidget, QTableWidgetItem, QToolButton, QTreeWidget,
                               QTreeWidgetItem, QVBoxLayout, QWidget)

from ...session.adoption import MIN_SEGMENTS, MIN_VIDEOS, figures_text, pct
from ...session.finetuning import (DEFAULT_STEPS, REPLAY_AUTO, REPLAY_SETTING, FinetuneOptions, RunSummary,
                                   video_choices)
from ...sdanet.finetune import COLD_START_STEPS, held_out_count


class FinetuneDialog(QDialog):
    def __init__(self, project, base_name: str, parent=None, *, defaults: FinetuneOptions | None = None,
                 freeze=None, cold_start: bool = False):
        super().__init__(parent)
        from ... import user_settings

        self.cold_start = cold_start
        self.no_model = cold_start and not base_name   # nothing in use: the new model simply is
        self.freeze = freeze                 # video ids -> Manifest (session.finetune.freeze)
        self.material = None                 # TrainingSummary of the chosen videos
        self.setObjectName("newModelDialog" if cold_start else "finetuneDialog")
        self.setWindowTitle("New model from this project" if cold_start else "Fine-tune the model")
        self.setWindowModality(Qt.WindowModality.WindowModal)
        self.choices = video_choices(project)
        if cold_start and base_name:
            text = ("Train a model of this project's own, from nothing, on your reviewed videos (for "
                    "classes no checkpoint knows). It is measured on fully reviewed videos it never "
                    f"sees, against <b>{base_name}</b>, and becomes active only when it is measurably "
                    "better (or you choose it after seeing the numbers).")
        elif cold_start:
            text = ("Train a model of this project's own, from nothing, on your reviewed videos. It is "
                    "measured on fully reviewed videos it never sees; no model is in use, so it "
                    "becomes the active one.")
        else:
            text = (f"Train <b>{base_name}</b> further on your corrections, in the background. The new "
                    "version becomes active only when it is measurably better on fully reviewed videos "
                    "it never sees (or you choose it after seeing the numbers); classes it does not "
                    "know yet are added to it.")
        intro = QLabel(text, self)
        intro.setWordWrap(True)

        self.videos = QTreeWidget(self)
        self.videos.setObjectName("finetuneVideos")
        self.videos.setRootIsDecorated(False)
        self.videos.setHeaderLabels(["Video", "Human segments", "Reviewed", "Features"])
        self.videos.header().setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        for c in self.choices:
            item = QTreeWidgetItem([c.name, str(c.human_segments), c.review,
                                    "yes" if c.has_features else "missing"])
            item.setData(0, Qt.ItemDataRole.UserRole, c.video_id)
            item.setFlags(item.flags() | Qt.ItemFlag.ItemIsUserCheckable)
            item.setCheckState(0, Qt.CheckState.Checked if c.trainable and c.has_features
                               else Qt.CheckState.Unchecked)
            self.videos.addTopLevelItem(item)
        self.videos.itemChanged.connect(lambda *_: self._validate())
        self.counts = QLabel(self)
        self.counts.setObjectName("finetuneCounts")
        self.counts.setWordWrap(True)
        self.material_label = QLabel(self)
        self.material_label.setObjectName("finetuneMaterial")
        self.material_label.setWordWrap(True)
        self.material_label.setTextFormat(Qt.TextFormat.RichText)
        self.warning = QLabel(self)
        self.warning.setObjectName("finetuneWarning")
        self.warning.setWordWrap(True)
        self.warning.setStyleSheet("color: #b8860b;")

        # Advanced: collapsed by default; the defaults are what most runs want.
        d = defaults or FinetuneOptions([], steps=COLD_START_STEPS if cold_start else DEFAULT_STEPS)
        self.advanced_toggle = QToolButton(self)
        self.advanced_toggle.setText("Advanced")
        self.advanced_toggle.setCheckable(True)
        self.advanced_toggle.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextBesideIcon)
        self.advanced_toggle.setArrowType(Qt.ArrowType.RightArrow)
        self.advanced = QWidget(self)
        self.advanced.setObjectName("finetuneAdvanced")
        form = QFormLayout(self.advanced)
        self.steps = QSpinBox(self.advanced)
        self.steps.setRange(1, 10_000_000)
        self.steps.setValue(int(d.steps))
        self.steps.setToolTip("Optimizer steps; a step sees one batch of videos")
        self.lr = QLineEdit(self.advanced)
        self.lr.setPlaceholderText("the checkpoint's own")
        if d.lr is not None:
            self.lr.setText(repr(float(d.lr)))
        self.holdout = QDoubleSpinBox(self.advanced)
        self.holdout.setRange(0.05, 0.9)
        self.holdout.setSingleStep(0.05)
        self.holdout.setDecimals(2)
        self.holdout.setValue(float(d.holdout))
        self.holdout.setToolTip("Share of the chosen fully reviewed videos that is never trained on and "
                                "measures the mAP before and after (3 when that leaves 3 to train on)")
        self.holdout.valueChanged.connect(lambda *_: self._validate())
        self.seed = QSpinBox(self.advanced)
        self.seed.setRange(0, 2**31 - 1)
        self.seed.setValue(int(d.seed))
        self.replay_on = QCheckBox("Mix in the base's training set (replay)", self.advanced)
        self.replay_on.setObjectName("finetuneReplayOn")
        self.replay_on.setChecked(d.replay is not None and not cold_start)
        self.replay_on.setToolTip("Trains on the base model's own training set too, so that it does not "
                                  "forget what it knew; its test videos show how much it kept")
        self.replay_on.toggled.connect(lambda *_: self._validate())
        self.replay = QLineEdit(self.advanced)
        self.replay.setPlaceholderText("the set the base checkpoint records, if any")
        explicit = d.replay if d.replay not in (None, REPLAY_AUTO) else None
        self.replay.setText(explicit or str(user_settings.get(REPLAY_SETTING, "") or ""))
        self.replay.setToolTip("Another base training feature set (blank: the one recorded in the checkpoint)")
        self.replay.textChanged.connect(lambda *_: self._validate())
        browse = QPushButton("Browse…", self.advanced)
        browse.clicked.connect(self._browse_replay)
        replay_row = QHBoxLayout()
        replay_row.addWidget(self.replay, 1)
        replay_row.addWidget(browse)
        form.addRow("Steps:", self.steps)
        form.addRow("Learning rate:", self.lr)
        form.addRow("Held-out share:", self.holdout)
        form.addRow("Seed:", self.seed)
        if not cold_start:   # a cold start has no base whose training set it could replay
            form.addRow(self.replay_on)
            form.addRow("Replay feature set:", replay_row)
        else:
            self.replay_on.hide()
            self.replay.hide()
            browse.hide()
        self.lr.textChanged.connect(lambda *_: self._validate())
        self.advanced.setVisible(False)
        self.advanced_toggle.toggled.connect(self._show_advanced)

        self.problem = QLabel(self)
        self.problem.setObjectName("finetuneProblem")
        self.problem.setWordWrap(True)
        self.problem.setStyleSheet("color: #d9534f;")
        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok
                                        | QDialogButtonBox.StandardButton.Cancel, self)
        self.ok_button = self.buttons.button(QDialogButtonBox.StandardButton.Ok)
        self.ok_button.setText("Train a new model" if cold_start else "Start fine-tuning")
        self.buttons.accepted.connect(self.accept)
        self.buttons.rejected.connect(self.reject)

        layout = QVBoxLayout(self)
        layout.addWidget(intro)
        layout.addWidget(self.videos, 1)
        layout.addWidget(self.counts)
        layout.addWidget(self.material_label)
        layout.addWidget(self.warning)
        layout.addWidget(self.advanced_toggle)
        layout.addWidget(self.advanced)
        layout.addWidget(self.problem)
        layout.addWidget(self.buttons)
        self.resize(600, 560)
        self._validate()

    # --- reading the choice ------------------------------------------------------------------
    def chosen_ids(self) -> list[int]:
        ids = []
        for i in range(self.videos.topLevelItemCount()):
            item = self.videos.topLevelItem(i)
            if item.checkState(0) == Qt.CheckState.Checked:
                ids.append(int(item.data(0, Qt.ItemDataRole.UserRole)))
        return ids

    def learning_rate(self) -> float | None:
        """None for the checkpoint's own; raises ValueError for text that is not a rate > 0."""
        text = self.lr.text().strip()
        if not text:
            return None
        value = float(text)
        if not (value > 0 and math.isfinite(value)):
            raise ValueError(text)
        return value

    def options(self) -> FinetuneOptions:
        replay = (self.replay.text().strip() or REPLAY_AUTO) if self.replay_on.isChecked() else None
        return FinetuneOptions(self.chosen_ids(), int(self.steps.value()), self.learning_rate(),
                               float(self.holdout.value()), int(self.seed.value()), replay,
                               cold_start=self.cold_start)

    # --- internals ---------------------------------------------------------------------------
    def _show_advanced(self, shown: bool) -> None:
        self.advanced.setVisible(shown)
        self.advanced_toggle.setArrowType(Qt.ArrowType.DownArrow if shown else Qt.ArrowType.RightArrow)

    def _browse_replay(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Replay feature set", self.replay.text(),
                                              "Feature sets (*.h5 *.hdf5 *.npy *.json);;All files (*)")
        if path:
            self.replay.setText(path)

    def _show_material(self, ids: list[int]) -> None:
        """What the chosen videos teach (per class) and how many can be held out to measure."""
        from ...session.training_summary import summarize_material

        if self.freeze is None:
            return
        manifest = self.freeze(ids) if ids else None
        material = self.material = summarize_material(manifest) if manifest is not None else None
        if material is None:
            self.material_label.setText("")
            self.warning.setVisible(False)
            return
        full = sum(1 for v in manifest.videos if v.fully_reviewed)
        held = held_out_count(full, float(self.holdout.value()))
        rows = "".join(f"<li>{line}</li>" for line in material.lines())
        if self.no_model:
            measure = f"{held} of the {full} fully reviewed videos are held out to measure it."
        elif held >= MIN_VIDEOS:
            measure = (f"{held} of the {full} fully reviewed videos are held out to measure it; it "
                       f"becomes active only when measurably better there.")
        else:
            measure = (f"Only {held} fully reviewed video(s) can be held out (deciding needs "
                       f"{MIN_VIDEOS} and {MIN_SEGMENTS} segments): the result will be shown, but "
                       f"the current model stays active unless you choose it. Mark more videos "
                       f"reviewed to the end (Ctrl+D) to measure it.")
        self.material_label.setText(f"<b>It trains on:</b><ul style='margin:0'>{rows}</ul>{measure}")
        warning = material.warning()
        self.warning.setText(f"⚠ {warning}" if warning else "")
        self.warning.setVisible(bool(warning))

    def _validate(self) -> None:
        by_id = {c.video_id: c for c in self.choices}
        chosen = [by_id[i] for i in self.chosen_ids()]
        with_segments = [c for c in chosen if c.human_segments > 0 and c.has_features]
        no_features = [c for c in chosen if not c.has_features]
        reviewed = sum(1 for c in chosen if c.review != "unreviewed")
        text = (f"{len(chosen)} of {len(self.choices)} videos chosen: "
                f"{sum(c.human_segments for c in chosen)} human segments, {reviewed} reviewed.")
        if no_features:
            text += f" {len(no_features)} without features will be left out."
        self.counts.setText(text)
        self._show_material([c.video_id for c in chosen if c.has_features])
        problem = ""
        if not with_segments:
            problem = "Choose at least one video with human segments and features to train on."
        else:
            try:
                self.learning_rate()
            except ValueError:
                problem = f"Learning rate '{self.lr.text().strip()}' is not a number above 0."
            replay = self.replay.text().strip() if self.replay_on.isChecked() else ""
            if not problem and replay and not Path(replay).exists():
                problem = f"{replay}: replay feature set not found."
        self.problem.setText(problem)
        self.problem.setVisible(bool(problem))
        self.ok_button.setEnabled(not problem)


def _pct(v) -> str:
    return "—" if v is None else f"{100.0 * v:.1f}"


class ResultDialog(QDialog):
    """The result of a finished run and whether it is in use. `on_use_anyway` (offered when the
    run was not adopted) makes the new version active; `on_rollback` with `base_name` (offered
    when it was) makes the previous one active again: the new one stays listed under Model >
    Versions either way."""

    def __init__(self, summary: RunSummary, parent=None, *, decision=None, base_name: str = "",
                 on_rollback=None, on_use_anyway=None):
        super().__init__(parent)
        self.setObjectName("finetuneResult")
        self.setWindowTitle("Training result" if summary.cold_start else "Fine-tuning result")
        self.summary = s = summary
        self.decision = decision
        adopted = decision is None or decision.adopt
        report = s.report
        change, color = "", ""
        if s.before is not None and s.after is not None:
            change = f" ({100.0 * (s.after - s.before):+.1f})"
            color = "#2e8b57" if s.after > s.before else "#d9534f" if s.after < s.before else ""
        style = f' style="color:{color}"' if color else ""
        headline = QLabel(f"<h3{style}>Held-out average mAP (%): {_pct(s.before)} → {_pct(s.after)}"
                          f"{change}</h3>", self)
        headline.setObjectName("resultHeadline")
        verdict = QLabel(self)
        verdict.setObjectName("resultDecision")
        verdict.setWordWrap(True)
        state = (f"<b>{s.version_name}</b> is now the active model." if adopted else
                 f"<b>{s.version_name}</b> is <b>not</b> in use"
                 + (f": <b>{base_name}</b> stays active." if base_name else "."))
        why = decision.reason if decision is not None else ""
        verdict.setText(f"{state}<br>{why[0].upper() + why[1:] if why else ''}")
        trust = QLabel(self)
        trust.setObjectName("resultTrust")
        trust.setWordWrap(True)
        if report is not None and report.videos:
            trust.setText(
                f"How far to trust it: {figures_text(report)}. The interval comes from resampling the "
                f"held-out videos ({report.resamples} times); deciding needs at least {MIN_VIDEOS} "
                f"videos and {MIN_SEGMENTS} segments, and the whole interval above 0.")
        else:
            trust.setText("Nothing was held out to measure on: mark more videos reviewed to the end.")
        steps = f"{s.steps_done}" + (f" of {s.steps}" if s.steps else "")
        how = "stopped early by you" if s.stopped else "all steps"
        extra = ""
        if s.new_classes:
            extra += f"<br>New classes learned: {', '.join(s.new_classes)}."
        if s.base_test:
            extra += (f"<br>The base's own test set (replayed): average mAP {pct(s.base_test.get('before'))} → "
                      f"{pct(s.base_test.get('after'))} % on {s.base_test.get('videos')} videos.")
        facts = QLabel(
            f"Steps: {steps} ({how}) on {s.device or 'unknown device'}.<br>"
            f"Trained on {len(s.train_videos)} videos; measured on {len(s.held_out)} fully reviewed "
            f"held-out video(s) never trained on: {', '.join(map(str, s.held_out[:6]))}"
            f"{'…' if len(s.held_out) > 6 else ''}.{extra}", self)
        facts.setObjectName("resultFacts")
        facts.setWordWrap(True)
        worse = set(decision.worse_classes) if decision is not None else set()
        self.warnings = QLabel(self)
        self.warnings.setObjectName("resultClassWarnings")
        self.warnings.setWordWrap(True)
        self.warnings.setStyleSheet("color: #d9534f;")
        self.warnings.setText("Clearly worse on: " + ", ".join(sorted(worse)) if worse else "")
        self.warnings.setVisible(bool(worse))
        self.table = QTableWidget(len(s.per_class), 5, self)
        self.table.setObjectName("resultPerClass")
        self.table.verticalHeader().setVisible(False)
        self.table.horizontalHeader().setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        per = report.per_class if report is not None else {}
        for row, (cls, (b, a)) in enumerate(s.per_class.items()):
            delta = "—" if a is None or b is None else f"{100.0 * (a - b):+.1f}"
            segs = str(per[cls].segments) if cls in per else "—"
            for col, text in enumerate((str(cls) + ("  ⚠ clearly worse" if cls in worse else ""),
                                        _pct(b), _pct(a), delta, segs)):
                item = QTableWidgetItem(text)
                item.setFlags(item.flags() & ~Qt.ItemFlag.ItemIsEditable)
                if cls in worse:
                    item.setForeground(Qt.GlobalColor.red)
                self.table.setItem(row, col, item)
        self.table.setHorizontalHeaderLabels(["Class", "AP before (%)", "AP after (%)", "Change", "Segments"])
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close, self)
        buttons.rejected.connect(self.reject)
        self.rollback_button = self.use_anyway_button = None
        if adopted and on_rollback is not None and base_name:
            self.rollback_button = buttons.addButton(f"Go back to '{base_name}'",
                                                     QDialogButtonBox.ButtonRole.ResetRole)
            self.rollback_button.setObjectName("resultRollback")
            self.rollback_button.setToolTip(f"Make '{base_name}' the active model again; "
                                            f"'{s.version_name}' stays under Model > Versions")
            self.rollback_button.clicked.connect(lambda: (on_rollback(), self.accept()))
        if not adopted and on_use_anyway is not None:
            self.use_anyway_button = buttons.addButton("Use anyway", QDialogButtonBox.ButtonRole.AcceptRole)
            self.use_anyway_button.setObjectName("resultUseAnyway")
            self.use_anyway_button.setToolTip(f"Make '{s.version_name}' the active model although it was "
                                              f"not measurably better; you can go back under Model > Versions")
            self.use_anyway_button.clicked.connect(lambda: (on_use_anyway(), self.accept()))
        layout = QVBoxLayout(self)
        for w in (headline, verdict, trust, facts, self.warnings):
            layout.addWidget(w)
        layout.addWidget(self.table, 1)
        layout.addWidget(buttons)
        self.resize(560, 520)
