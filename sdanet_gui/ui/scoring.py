"""Score videos with an SDANet checkpoint off the UI thread.

`ScoringWorker.start(checkpoint, {video_name: feature_file})` loads the checkpoint (torch is
imported here, in the worker, never at window start), reads each video's feature file, runs the
network on the whole video and localizes segments, and reports each video as it is done through
queued Qt signals: `scored(VideoResult)`, `progress(done, total)`, `failed(message)`, `finished()`.
`cancel()` is checked between videos. The worker never touches the project store (its SQLite
connection belongs to the UI thread): the window writes the predictions it receives.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass, field
from pathlib import Path

from PySide6.QtCore import QObject, Qt, Signal

log = logging.getLogger(__name__)


@dataclass
class VideoResult:
    """One scored video. cas [T, C+1] logits, attention [T], modality_attention [T, M] or None;
    segments in seconds."""

    name: str
    cas: object
    attention: object
    spec: object                      # units.FeatureSpec of the features
    classes: list[str]
    segments: list = field(default_factory=list)  # data.structures.Segment, seconds
    model_name: str = ""
    checkpoint: str = ""
    params: object = None             # sdanet.localization.PostProcessing that made `segments`
    # [T, M] per-modality attention in 0..1, columns in spec.modalities order (rgb, flow, ...);
    # None when the model did not report it (the review queue then ranks without that term)
    modality_attention: object = None


class ScoringWorker(QObject):
    scored = Signal(object)
    progress = Signal(int, int)
    failed = Signal(str)
    finished = Signal()

    def __init__(self, parent=None):
        super().__init__(parent)
        self._relay = _Relay()
        for name in ("scored", "progress", "failed", "finished"):
            getattr(self._relay, name).connect(getattr(self, name), Qt.ConnectionType.QueuedConnection)
        self._cancel = threading.Event()
        self._thread: threading.Thread | None = None

    def busy(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def start(self, checkpoint, features: dict[str, Path]) -> None:
        if self.busy():
            raise RuntimeError("scoring is already running")
        self._cancel.clear()
        self._thread = threading.Thread(target=self._run, args=(Path(checkpoint), dict(features)),
                                        name="sdanet-scoring", daemon=True)
        self._thread.start()

    def cancel(self) -> None:
        self._cancel.set()

    def _run(self, checkpoint: Path, features: dict[str, Path]) -> None:
        from ..errors import UserError

        try:
            self._score(checkpoint, features)
        except UserError as exc:
            self._relay.failed.emit(str(exc))
        except Exception as exc:  # noqa: BLE001 - reported as a dialog, the window lives on
            log.exception("scoring with %s failed", checkpoint)
            self._relay.failed.emit(f"{checkpoint}: scoring failed ({type(exc).__name__}: {exc})")
        finally:
            self._relay.finished.emit()

    def _score(self, checkpoint: Path, features: dict[str, Path]) -> None:
        from ..torch_import import import_torch

        import_torch()  # before the engine's own imports: keeps the first load from freezing the UI
        from ..data.feature_files import read_feature_file
        from ..errors import UserError
        from ..sdanet.localization import PostProcessing
        from ..sdanet.predict import VideoScores, load_model, localize_scores, score_features

        model, meta = load_model(checkpoint)  # the engine picks the device (CUDA if present)
        spec = meta.feature_spec
        post = meta.config.get("post") if isinstance(meta.config, dict) else None
        params = PostProcessing.from_dict(post) if isinstance(post, dict) else PostProcessing()
        total = len(features)
        for i, (name, path) in enumerate(sorted(features.items())):
            if self._cancel.is_set():
                return
            ff = read_feature_file(path, spec)
            if ff.features.ndim != 2 or ff.features.shape[1] != spec.feature_dim:
                raise UserError(f"{path}: features have shape {tuple(ff.features.shape)}, the model "
                                f"{checkpoint.name} expects [T, {spec.feature_dim}]", path=path)
            scores: VideoScores = score_features(model, ff.features)
            segments = localize_scores(scores, spec, meta.classes, params)
            self._relay.scored.emit(VideoResult(name, scores.cas, scores.attention, spec,
                                                list(meta.classes), segments, checkpoint.stem,
                                                str(checkpoint), params,
                                                modality_attention=_stack_modalities(scores, spec)))
            self._relay.progress.emit(i + 1, total)


def _stack_modalities(scores, spec):
    """VideoScores.modality_attention {name: [T]} -> [T, M] in spec order, or None if incomplete."""
    import numpy as np

    mod = getattr(scores, "modality_attention", None) or {}
    names = spec.modality_names
    if not names or any(n not in mod for n in names):
        return None
    return np.stack([np.asarray(mod[n], dtype=np.float32) for n in names], axis=1)


class _Relay(QObject):
    scored = Signal(object)
    progress = Signal(int, int)
    failed = Signal(str)
    finished = Signal()
