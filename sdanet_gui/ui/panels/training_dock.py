"""The training dock: what a fine-tuning run is doing while the user keeps working.

Shows the device (and whether mixed precision is on), a progress bar, a live loss plot (the
total and every loss term, one curve each, pyqtgraph), the latest figures (step / total,
snippets per second, ETA, the held-out average mAP before training and, at the end, after), a
status line, and Stop (keep the weights so far) / Cancel (discard the run) buttons.

It is a view: it receives the job's message dicts (see jobs/finetune_job.py) through
`on_started`, `on_progress`, `on_eval`, `finish`, and emits `stop_requested` /
`cancel_requested`. It never talks to the job or the project itself. The loss plot redraws at
most every `REDRAW_S` however fast progress arrives, so the UI thread stays free.
"""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QTimer, Signal
from PySide6.QtWidgets import (QGridLayout, QHBoxLayout, QLabel, QProgressBar, QPushButton,
                               QVBoxLayout, QWidget)

from ...data.units import format_timecode

REDRAW_S = 0.2
NEW_CURVES_PER_DRAW = 2
SIDE_WIDTH = 300  # px: the figures keep their place; the plot takes the rest
TOTAL_COLOR = (240, 240, 240)


def term_color(i: int):
    return pg.intColor(i, hues=8, values=1, maxValue=255, minValue=200, sat=200)


def map_text(value) -> str:
    return "—" if value is None else f"{100.0 * float(value):.1f} %"


class TrainingDock(QWidget):
    stop_requested = Signal()
    cancel_requested = Signal()

    def __init__(self, parent=None):
        super().__init__(parent)
        self.setObjectName("trainingDock")
        self.title = QLabel("No fine-tuning yet", self)
        self.title.setObjectName("trainingTitle")
        self.device_label = QLabel("", self)
        self.device_label.setObjectName("trainingDevice")
        self.bar = QProgressBar(self)
        self.bar.setObjectName("trainingProgress")
        self.bar.setRange(0, 1)
        self.bar.setValue(0)

        self.step_label = QLabel("—", self)
        self.rate_label = QLabel("—", self)
        self.eta_label = QLabel("—", self)
        self.before_label = QLabel("—", self)
        self.after_label = QLabel("—", self)
        grid = QGridLayout()
        for row, (name, label) in enumerate((("Step", self.step_label), ("Snippets/s", self.rate_label),
                                             ("ETA", self.eta_label), ("Held-out mAP before", self.before_label),
                                             ("Held-out mAP after", self.after_label))):
            grid.addWidget(QLabel(name + ":", self), row, 0)
            grid.addWidget(label, row, 1)
        self.status = QLabel("", self)
        self.status.setObjectName("trainingStatus")
        self.status.setWordWrap(True)

        self.plot = pg.PlotWidget(self)
        self.plot.setObjectName("lossPlot")
        self.plot.setMinimumHeight(140)
        self.plot.setLabel("bottom", "step")
        self.plot.setLabel("left", "loss")
        self.plot.addLegend(offset=(-10, 10))
        self.plot.setClipToView(True)
        self.plot.setDownsampling(auto=True, mode="peak")
        self.curves: dict[str, pg.PlotDataItem] = {}

        self.stop_button = QPushButton("Stop", self)
        self.stop_button.setObjectName("trainingStop")
        self.stop_button.setToolTip("Finish now and keep the weights trained so far as a new model version")
        self.stop_button.clicked.connect(self._stop_clicked)
        self.cancel_button = QPushButton("Cancel", self)
        self.cancel_button.setObjectName("trainingCancel")
        self.cancel_button.setToolTip("Discard this run: no new model version")
        self.cancel_button.clicked.connect(self._cancel_clicked)
        buttons = QHBoxLayout()
        buttons.addStretch(1)
        buttons.addWidget(self.stop_button)
        buttons.addWidget(self.cancel_button)

        panel = QWidget(self)
        panel.setFixedWidth(SIDE_WIDTH)
        side = QVBoxLayout(panel)
        side.setContentsMargins(0, 0, 0, 0)
        side.addWidget(self.title)
        side.addWidget(self.device_label)
        side.addWidget(self.bar)
        side.addLayout(grid)
        side.addWidget(self.status)
        side.addStretch(1)
        side.addLayout(buttons)
        layout = QHBoxLayout(self)
        layout.addWidget(panel, 0)
        layout.addWidget(self.plot, 1)

        self._steps: list[float] = []
        self._losses: dict[str, list[float]] = {}
        self._dirty = False
        self._redraw = QTimer(self)
        self._redraw.setInterval(int(REDRAW_S * 1000))
        self._redraw.timeout.connect(self._redraw_tick)
        self.last_progress: dict | None = None
        self.progress_count = 0
        self._set_running(False)

    # --- messages ----------------------------------------------------------------------------
    def begin(self, title: str) -> None:
        """A run was requested: reset everything, the child is starting."""
        self.title.setText(title)
        self.device_label.setText("Device: starting…")
        self.status.setText("Starting the training process…")
        self.status.setToolTip("")
        self.bar.setRange(0, 0)  # busy until the first step
        for label in (self.step_label, self.rate_label, self.eta_label, self.before_label, self.after_label):
            label.setText("—")
        self._steps, self._losses, self.last_progress, self.progress_count = [], {}, None, 0
        for curve in self.curves.values():
            self.plot.removeItem(curve)
        self.plot.plotItem.legend.clear()
        self.curves = {}
        self._set_running(True)
        self._redraw.start()

    def on_started(self, msg: dict) -> None:
        amp = "mixed precision" if msg.get("amp") else "fp32"
        self.device_label.setText(f"Device: {msg.get('device', '?')} ({amp})")
        steps = int(msg.get("steps") or 0)
        self.bar.setRange(0, max(1, steps))
        self.bar.setValue(0)
        self.step_label.setText(f"0 / {steps}")
        train, held = msg.get("train_videos") or [], msg.get("held_out") or []
        replay = int(msg.get("replay_videos") or 0)
        extra = f" + {replay} replay" if replay else ""
        new = msg.get("new_classes") or []
        learns = f"; learns the new class(es) {', '.join(new)}" if new else ""
        self.status.setText(f"Training on {len(train)} videos{extra}; {len(held)} held out to measure"
                            f"{learns}. Measuring the current model first…")

    def on_eval(self, msg: dict) -> None:
        label = self.before_label if msg.get("phase") == "before" else self.after_label
        label.setText(map_text(msg.get("average_mAP")))
        if msg.get("phase") == "before":
            self.status.setText("Training…")
        else:
            self.status.setText("Writing the new checkpoint…")

    def on_progress(self, msg: dict) -> None:
        self.last_progress = msg
        self.progress_count += 1
        step, total = int(msg.get("step") or 0), int(msg.get("total") or 0)
        if total > 0:
            if self.bar.maximum() != total:
                self.bar.setRange(0, total)
            self.bar.setValue(min(step, total))
        self.step_label.setText(f"{step} / {total}")
        rate = msg.get("snippets_per_s")
        self.rate_label.setText("—" if rate is None else f"{float(rate):,.0f}")
        eta = msg.get("eta_s")
        self.eta_label.setText("—" if eta is None else format_timecode(float(eta))[:8])
        for point_step, losses in msg.get("points") or [(step, msg.get("losses") or {})]:
            self._add_point(point_step, losses)
        self._dirty = True

    def finish(self, text: str, detail: str = "") -> None:
        """The run ended (done, cancelled, failed): say how in a short `text` (the full `detail`,
        e.g. a failure's message, goes to the tooltip), disable the buttons."""
        self._draw()
        self._redraw.stop()
        if self.bar.maximum() == 0:
            self.bar.setRange(0, 1)
        self.status.setText(text)
        self.status.setToolTip(detail)
        self._set_running(False)

    @property
    def running(self) -> bool:
        return self._running

    # --- internals ---------------------------------------------------------------------------
    def _add_point(self, step, losses: dict) -> None:
        if step is None:
            return
        n = len(self._steps)
        self._steps.append(float(step))
        for key, value in losses.items():
            series = self._losses.setdefault(key, [float("nan")] * n)
            series.append(float(value) if value is not None else float("nan"))
        for series in self._losses.values():
            if len(series) < n + 1:
                series.append(float("nan"))

    def _redraw_tick(self) -> None:
        self._draw(new_curves=NEW_CURVES_PER_DRAW)

    def _draw(self, new_curves: int | None = None) -> None:
        """Update the curves from the collected points. At most `new_curves` curves (with their
        legend entries) are created per call: creating all ~8 at once costs the UI thread a
        burst of tens of ms; the timer spreads it over a few redraws."""
        if not self._dirty:
            return
        self._dirty = False
        x = np.asarray(self._steps, dtype=float)
        names = sorted(self._losses, key=lambda k: (k != "total", k))
        for i, name in enumerate(names):
            curve = self.curves.get(name)
            if curve is None:
                if new_curves is not None and new_curves <= 0:
                    self._dirty = True  # the rest on the next tick
                    continue
                if new_curves is not None:
                    new_curves -= 1
                pen = pg.mkPen(TOTAL_COLOR, width=2) if name == "total" else pg.mkPen(term_color(i), width=1)
                curve = self.plot.plot([], [], pen=pen, name=name, connect="finite")
                self.curves[name] = curve
            curve.setData(x, np.asarray(self._losses[name], dtype=float))

    def curve_data(self, name: str):
        """(steps, values) plotted for a loss term (tests, benchmarks)."""
        self._draw()
        curve = self.curves.get(name)
        return (np.array([]), np.array([])) if curve is None else curve.getData()

    def _set_running(self, running: bool) -> None:
        self._running = running
        self.stop_button.setEnabled(running)
        self.cancel_button.setEnabled(running)

    def _stop_clicked(self) -> None:
        self.stop_button.setEnabled(False)
        self.status.setText("Stopping: keeping the weights so far…")
        self.stop_requested.emit()

    def _cancel_clicked(self) -> None:
        self.stop_button.setEnabled(False)
        self.cancel_button.setEnabled(False)
        self.status.setText("Cancelling: nothing will be saved…")
        self.cancel_requested.emit()
