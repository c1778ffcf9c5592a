"""The two dialogs of fine-tuning: what to train on before a run, what it achieved after.

`FinetuneDialog(project, base_name, parent)`: which videos teach the model (default: every
video with a human segment or a reviewed span; a table shows each video's human segments,
review state and whether it has features, and a line counts what is chosen), and under
"Advanced" the training knobs with sensible defaults: steps, learning rate (blank = the
checkpoint's own), held-out share, seed, and the replay feature set (a base training set mixed
in against forgetting; remembered per user under the user setting "finetune_replay"). OK stays
disabled, with the reason shown, until the choice can train (>= 2 chosen videos with human
segments: one to train on, one held out to measure). `options()` -> `FinetuneOptions`.

`ResultDialog(summary, parent)`: held-out average mAP before / after, per class, the device,
steps done and whether the run was stopped early.

Both only read the project (in the UI thread). Neither starts anything: the fine-tuning flow
(finetune_flow.py) hands the options to the session.
"""

from __future__ import annotations

import math
from pathlib import Path

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (QDialog, QDialogButtonBox, QDoubleSpinBox, QFileDialog, QFormLayout,
                               QHBoxLayout, QHeaderView, QLabel, QLineEdit, QPushButton, QSpinBox,
                               QTableWidget, QTableWidgetItem, QToolButton, QTreeWidget,
                               QTreeWidgetItem, QVBoxLayout, QWidget)

from ...session.finetuning import REPLAY_SETTING, FinetuneOptions, RunSummary, video_choices


class FinetuneDialog(QDialog):
    def __init__(self, project, base_name: str, parent=None, *, defaults: FinetuneOptions | None = None):
        super().__init__(parent)
        from ... import user_settings

        self.setObjectName("finetuneDialog")
        self.setWindowTitle("Fine-tune the model")
        self.setWindowModality(Qt.WindowModality.WindowModal)
        self.choices = video_choices(project)
        intro = QLabel(f"Train <b>{base_name}</b> further on your corrections. It keeps working in "
                       "the background; the current model stays active until the new one is ready.", self)
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

        # Advanced: collapsed by default; the defaults are what most runs want.
        d = defaults or FinetuneOptions([])
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
        self.holdout.setToolTip("Share of the chosen videos with segments that is never trained on and "
                                "measures the mAP before and after (at least one video)")
        self.seed = QSpinBox(self.advanced)
        self.seed.setRange(0, 2**31 - 1)
        self.seed.setValue(int(d.seed))
        self.replay = QLineEdit(self.advanced)
        self.replay.setPlaceholderText("none (only your corrections)")
        self.replay.setText(d.replay or str(user_settings.get(REPLAY_SETTING, "") or ""))
        self.replay.setToolTip("A base training feature set mixed in so the model does not forget it")
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
        form.addRow("Replay feature set:", replay_row)
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
        self.ok_button.setText("Start fine-tuning")
        self.buttons.accepted.connect(self.accept)
        self.buttons.rejected.connect(self.reject)

        layout = QVBoxLayout(self)
        layout.addWidget(intro)
        layout.addWidget(self.videos, 1)
        layout.addWidget(self.counts)
        layout.addWidget(self.advanced_toggle)
        layout.addWidget(self.advanced)
        layout.addWidget(self.problem)
        layout.addWidget(self.buttons)
        self.resize(560, 460)
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
        replay = self.replay.text().strip() or None
        return FinetuneOptions(self.chosen_ids(), int(self.steps.value()), self.learning_rate(),
                               float(self.holdout.value()), int(self.seed.value()), replay)

    # --- internals ---------------------------------------------------------------------------
    def _show_advanced(self, shown: bool) -> None:
        self.advanced.setVisible(shown)
        self.advanced_toggle.setArrowType(Qt.ArrowType.DownArrow if shown else Qt.ArrowType.RightArrow)

    def _browse_replay(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Replay feature set", self.replay.text(),
                                              "Feature sets (*.h5 *.hdf5 *.npy *.json);;All files (*)")
        if path:
            self.replay.setText(path)

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
        problem = ""
        if len(with_segments) < 2:
            problem = (f"Choose at least 2 videos with human segments and features (now "
                       f"{len(with_segments)}): one to train on and one held out to measure.")
        else:
            try:
                self.learning_rate()
            except ValueError:
                problem = f"Learning rate '{self.lr.text().strip()}' is not a number above 0."
            replay = self.replay.text().strip()
            if not problem and replay and not Path(replay).exists():
                problem = f"{replay}: replay feature set not found."
        self.problem.setText(problem)
        self.problem.setVisible(bool(problem))
        self.ok_button.setEnabled(not problem)


def _pct(v) -> str:
    return "—" if v is None else f"{100.0 * v:.1f}"


class ResultDialog(QDialog):
    """The result of a finished run. With `on_rollback` (and `base_name`), a button makes the
    previous version active again: the new one stays listed under Model > Versions."""

    def __init__(self, summary: RunSummary, parent=None, *, base_name: str = "", on_rollback=None):
        super().__init__(parent)
        self.setObjectName("finetuneResult")
        self.setWindowTitle("Fine-tuning result")
        self.summary = s = summary
        change, color = "", ""
        if s.before is not None and s.after is not None:
            change = f" ({100.0 * (s.after - s.before):+.1f})"
            color = "#2e8b57" if s.after > s.before else "#d9534f" if s.after < s.before else ""
        style = f' style="color:{color}"' if color else ""
        headline = QLabel(f"<h3{style}>Held-out average mAP (%): {_pct(s.before)} → {_pct(s.after)}"
                          f"{change}</h3>", self)
        headline.setObjectName("resultHeadline")
        steps = f"{s.steps_done}" + (f" of {s.steps}" if s.steps else "")
        how = "stopped early by you" if s.stopped else "all steps"
        facts = QLabel(
            f"New model version <b>{s.version_name}</b> is now active.<br>"
            f"Steps: {steps} ({how}) on {s.device or 'unknown device'}.<br>"
            f"Trained on {len(s.train_videos)} videos; measured on {len(s.held_out)} held-out "
            f"video(s) never trained on: {', '.join(map(str, s.held_out[:6]))}"
            f"{'…' if len(s.held_out) > 6 else ''}.", self)
        facts.setObjectName("resultFacts")
        facts.setWordWrap(True)
        self.table = QTableWidget(len(s.per_class), 4, self)
        self.table.setObjectName("resultPerClass")
        self.table.setHorizontalHeaderLabels(["Class", "AP before", "AP after", "Change"])
        self.table.verticalHeader().setVisible(False)
        self.table.horizontalHeader().setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        for row, (cls, (b, a)) in enumerate(s.per_class.items()):
            delta = "—" if a is None or b is None else f"{100.0 * (a - b):+.1f}"
            for col, text in enumerate((str(cls), _pct(b), _pct(a), delta)):
                item = QTableWidgetItem(text)
                item.setFlags(item.flags() & ~Qt.ItemFlag.ItemIsEditable)
                self.table.setItem(row, col, item)
        self.table.setHorizontalHeaderLabels(["Class", "AP before (%)", "AP after (%)", "Change"])
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close, self)
        buttons.rejected.connect(self.reject)
        self.rollback_button = None
        if on_rollback is not None and base_name:
            self.rollback_button = buttons.addButton(f"Go back to '{base_name}'",
                                                     QDialogButtonBox.ButtonRole.ResetRole)
            self.rollback_button.setObjectName("resultRollback")
            self.rollback_button.setToolTip(f"Make '{base_name}' the active model again; "
                                            f"'{s.version_name}' stays under Model > Versions")
            self.rollback_button.clicked.connect(lambda: (on_rollback(), self.accept()))
        layout = QVBoxLayout(self)
        layout.addWidget(headline)
        layout.addWidget(facts)
        layout.addWidget(self.table, 1)
        layout.addWidget(buttons)
        self.resize(460, 380)
