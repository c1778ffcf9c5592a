"""From a trained model to score curves and segments, one video or a whole feature set.

Why it exists: the CLI (`sdanet predict`), the trainer's validation and the GUI (which caches
the score curves per video and redraws segments from them) must run the model the same way:
whole video at once (no clip resampling at test time, as the family does), eval mode, no
gradient, the device plan's autocast, then `localization.localize_video` on the numpy result.

  score_features(model, features [T, D]) -> VideoScores(cas [T, C+1] logits, attention [T])
  predict_videos(model, spec, classes, videos, params) -> {video: [Segment (seconds)]}
  predict_feature_set(checkpoint_or_model, feature_set, subset) -> {video: [Segment]}
  load_model(path) -> (model, CheckpointMeta)

This module never trains and never writes files (the caller saves predictions).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Sequence

import numpy as np

from ..data.structures import FeatureSet, FeatureVideo, Segment
from ..data.units import FeatureSpec
from ..errors import Cancelled, UserError
from .checkpoint import CheckpointMeta, check_compatible, load_checkpoint, load_weights
from .device import DevicePlan, choose_device


@dataclass
class VideoScores:
    """The model's view of one video, on the snippet grid of its feature spec.

    cas: float32 [T, C+1] class activation logits (last column = background);
    attention: float32 [T] fused foreground attention in [0, 1];
    modality_attention: {modality: float32 [T]}.
    """

    cas: np.ndarray
    attention: np.ndarray
    modality_attention: dict = field(default_factory=dict)


def build_model(config: dict, spec: FeatureSpec, num_classes: int):
    """An untrained SDANet for a saved config dict (the one place that maps meta -> model)."""
    from .config import SDANetConfig
    from .network import SDANet

    return SDANet(SDANetConfig.from_checkpoint(config), spec, num_classes)


def load_model(path: str | Path, device: str | DevicePlan | None = None):
    """(model in eval mode on the chosen device, CheckpointMeta) from a checkpoint file."""
    state, meta = load_checkpoint(path)
    plan = device if isinstance(device, DevicePlan) else choose_device(device)
    model = build_model(meta.config, meta.feature_spec, len(meta.classes))
    load_weights(model, state, path)
    model.to(plan.device).eval()
    return model, meta


def score_features(model, features: np.ndarray, plan: DevicePlan | None = None) -> VideoScores:
    """Run the model on one whole video. features: [T, D] -> VideoScores (see its docstring)."""
    import torch

    plan = (plan or _plan_of(model)).for_scoring()
    x = torch.tensor(np.asarray(features, dtype=np.float32), device=plan.device)[None]
    mask = torch.ones(x.shape[:2], dtype=torch.bool, device=plan.device)
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad(), plan.autocast():
            out = model(x, mask)
    finally:
        model.train(was_training)
    mod = {k: v[0].float().cpu().numpy() for k, v in (getattr(out, "modality_attention", None) or {}).items()}
    return VideoScores(out.cas[0].float().cpu().numpy(), out.attention[0].float().cpu().numpy(), mod)


def _plan_of(model) -> DevicePlan:
    try:
        dev = next(model.parameters()).device
    except StopIteration:
        return choose_device("cpu")
    return choose_device(str(dev) if dev.type == "cuda" else "cpu")


def localize_scores(scores: VideoScores, spec: FeatureSpec, classes: Sequence[str], params,
                    ambiguous=()) -> list[Segment]:
    from .localization import localize_video

    return localize_video(scores.cas, scores.attention, spec, list(classes), params,
                          ambiguous=list(ambiguous or []))


def predict_videos(model, spec: FeatureSpec, classes: Sequence[str], videos: Sequence[FeatureVideo],
                   params, plan: DevicePlan | None = None,
                   cancel: Callable[[], bool] | None = None,
                   progress: Callable[[int, int], None] | None = None) -> dict[str, list[Segment]]:
    """Segments (seconds) for each video; `cancel()` is polled between videos."""
    plan = plan or _plan_of(model)
    out: dict[str, list[Segment]] = {}
    for i, v in enumerate(videos):
        if cancel is not None and cancel():
            raise Cancelled()
        feats = v.features()
        if feats.ndim != 2 or feats.shape[1] != spec.feature_dim:
            raise UserError(f"features of video '{v.name}' have shape {tuple(feats.shape)}, the "
                            f"model expects [T, {spec.feature_dim}]")
        scores = score_features(model, feats, plan)
        out[v.name] = localize_scores(scores, spec, classes, params, v.annotation.ambiguous)
        if progress is not None:
            progress(i + 1, len(videos))
    return out


def predict_feature_set(checkpoint_or_model, feature_set: FeatureSet, subset: str | None = None, *,
                        meta: CheckpointMeta | None = None, params=None,
                        device: str | DevicePlan | None = None,
                        cancel: Callable[[], bool] | None = None,
                        progress: Callable[[int, int], None] | None = None) -> dict[str, list[Segment]]:
    """Predict every video of `subset` (None = all videos) of a feature set.

    `checkpoint_or_model`: a checkpoint path, or a model (then `meta` gives its classes/config;
    without meta the feature set's classes and spec are assumed). The checkpoint's classes and
    dims must match the data (else UserError). `params`: PostProcessing, default from the
    checkpoint's config.
    """
    from .config import SDANetConfig
    from .localization import PostProcessing

    if isinstance(checkpoint_or_model, (str, Path)):
        model, meta = load_model(checkpoint_or_model, device)
        check_compatible(meta, feature_set.classes, feature_set.spec, path=checkpoint_or_model,
                         data=f"the data ({feature_set.source or 'feature set'})")
    else:
        model = checkpoint_or_model
        if meta is not None:
            check_compatible(meta, feature_set.classes, feature_set.spec)
    if params is None:
        cfg = SDANetConfig.from_checkpoint(meta.config) if meta is not None else SDANetConfig()
        params = PostProcessing.from_config(cfg)
    if subset and subset not in feature_set.subsets():
        raise UserError(f"subset '{subset}' is not in the data ({feature_set.source}); available: "
                        f"{', '.join(feature_set.subsets()) or 'none'}", path=feature_set.source or None)
    videos = feature_set.by_subset(subset)
    plan = device if isinstance(device, DevicePlan) else None
    return predict_videos(model, feature_set.spec, feature_set.classes, videos, params, plan,
                          cancel=cancel, progress=progress)
