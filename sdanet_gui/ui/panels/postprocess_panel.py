"""The post-processing panel (a dock): the knobs that turn cached SDANet scores into segments.

Why: a reviewer tunes how eagerly the model's scores become predicted segments (class
threshold, the attention thresholds of the multi-threshold proposals, minimum length, soft-NMS
sigma) and sees the result at once. The panel only edits a `sdanet.localization.PostProcessing`
and emits it (`changed(PostProcessing)`); the window re-localizes from the scores it keeps in
memory. It never runs the network, never touches the project store and never localizes itself.

The chosen values are stored in the project's settings under SETTING_KEY (a PostProcessing
dict) by the window, and restored from there on open.
"""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QFormLayout, QHBoxLayout, QLabel, QSlider, QVBoxLayout, QWidget

SETTING_KEY = "postprocess"


class _Knob(QWidget):
    """A horizontal slider over an integer range shown as value = position x scale."""

    def __init__(self, name: str, lo: int, hi: int, scale: float, decimals: int, parent=None):
        super().__init__(parent)
        self.scale, self.decimals = scale, decimals
        self.slider = QSlider(Qt.Orientation.Horizontal, self)
        self.slider.setObjectName(name)
        self.slider.setRange(lo, hi)
        self.slider.setPageStep(max(1, (hi - lo) // 10))
        self.label = QLabel(self)
        self.label.setMinimumWidth(40)
        row = QHBoxLayout(self)
        row.setContentsMargins(0, 0, 0, 0)
        row.addWidget(self.slider, 1)
        row.addWidget(self.label)
        self.slider.valueChanged.connect(self._show)

    def value(self) -> float:
        return self.slider.value() * self.scale

    def set_value(self, value: float) -> None:
        self.slider.setValue(int(round(float(value) / self.scale)))
        self._show()

    def _show(self, *_):
        self.label.setText(f"{self.value():.{self.decimals}f}")


class PostProcessPanel(QWidget):
    """Class threshold, attention thresholds (min, max, steps), minimum length, NMS sigma."""

    changed = Signal(object)  # sdanet.localization.PostProcessing

    def __init__(self, parent=None):
        from ...sdanet.localization import PostProcessing

        super().__init__(parent)
        self.setObjectName("postprocessPanel")
        self._base = PostProcessing()  # the fields the panel does not show are kept from here
        self.class_threshold = _Knob("classThreshold", 0, 100, 0.01, 2, self)
        self.attention_min = _Knob("attentionMin", 0, 100, 0.01, 2, self)
        self.attention_max = _Knob("attentionMax", 0, 100, 0.01, 2, self)
        self.attention_steps = _Knob("attentionSteps", 1, 20, 1, 0, self)
        self.min_length = _Knob("minLength", 1, 50, 1, 0, self)
        self.nms_sigma = _Knob("nmsSigma", 1, 200, 0.01, 2, self)
        self.status = QLabel(self)
        self.status.setObjectName("postprocessStatus")
        self.status.setWordWrap(True)
        form = QFormLayout()
        form.addRow("Class threshold", self.class_threshold)
        form.addRow("Attention from", self.attention_min)
        form.addRow("Attention to", self.attention_max)
        form.addRow("Attention steps", self.attention_steps)
        form.addRow("Min length (snippets)", self.min_length)
        form.addRow("NMS sigma", self.nms_sigma)
        box = QVBoxLayout(self)
        box.addLayout(form)
        box.addWidget(self.status)
        box.addStretch(1)
        self._quiet = False
        for knob in self.knobs():
            knob.slider.valueChanged.connect(self._moved)
        self.set_params(self._base)

    def knobs(self) -> list[_Knob]:
        return [self.class_threshold, self.attention_min, self.attention_max, self.attention_steps,
                self.min_length, self.nms_sigma]

    def set_params(self, params) -> None:
        """Show `params` (PostProcessing) without emitting changed()."""
        from ...sdanet.localization import PostProcessing

        self._base = PostProcessing.from_dict(params.to_dict())
        thresholds = self._base.attention_thresholds
        self._quiet = True
        try:
            self.class_threshold.set_value(self._base.class_threshold)
            self.attention_min.set_value(min(thresholds))
            self.attention_max.set_value(max(thresholds))
            self.attention_steps.set_value(len(thresholds))
            self.min_length.set_value(self._base.min_length_snippets)
            self.nms_sigma.set_value(self._base.nms_sigma)
        finally:
            self._quiet = False

    def params(self):
        """The PostProcessing the controls show (other fields as last set)."""
        from ...sdanet.localization import PostProcessing

        lo, hi = sorted((self.attention_min.value(), self.attention_max.value()))
        steps = int(self.attention_steps.value())
        thresholds = [lo] if steps == 1 or hi == lo else [float(x) for x in np.linspace(lo, hi, steps)]
        d = self._base.to_dict()
        d.update(class_threshold=float(self.class_threshold.value()),
                 attention_thresholds=[round(t, 6) for t in thresholds],
                 min_length_snippets=int(self.min_length.value()),
                 nms_sigma=float(self.nms_sigma.value()))
        return PostProcessing.from_dict(d)

    def _moved(self, *_):
        if not self._quiet:
            self.changed.emit(self.params())
