"""Fine-tuning a checkpoint on corrected videos: the Qt-free core of "Fine-tune" and `sdanet finetune`.

Why it exists: the GUI's one-click fine-tuning and its headless twin must train on exactly the
same signal, split off the same held-out videos and report the same before/after figures, so
that the same seed on the same material gives the same checkpoint. Both call this module.

What it does (`finetune_videos`, the one core; `finetune_feature_set` is the `--subset` entry,
`jobs/finetune_job.run_job` the project's):
  - starts from a base checkpoint; refuses data whose classes or feature dims differ from it
    (the checkpoint module's message, naming the checkpoint file);
  - turns segments, reviewed spans and ambiguous spans into snippet targets: inside a segment
    of class c the snippet target is c+1, other snippets inside a reviewed span are background
    (0), everything else (unreviewed, ambiguous) is -1 = unknown, never background.
    `snippet_targets_from_segments` is the one place that does this. `--subset` treats every
    video of the subset as reviewed whole; the project path passes the manifest's spans;
  - holds out a seeded share of the annotated videos (at least one, default 20 %) that is never
    trained on, and measures the detection average mAP there before and after;
  - trains with the weak video-level losses of the checkpoint's own config plus the snippet
    loss (`loss.snippet`, weight `snippet_weight`), keeps the last weights, and writes a
    checkpoint whose metadata records the parent (by the trainer) and the before/after figures
    under metrics["finetune"].

What it must never do: import a UI toolkit, print, or do unit arithmetic itself (all
seconds <-> snippet conversions go through `FeatureSpec`).
"""

from __future__ import annotations

import math
from dataclasses import replace
from pathlib import Path
from typing import Callable, Sequence

import numpy as np

from ..data.structures import FeatureSet, FeatureVideo
from ..data.units import FeatureSpec
from ..errors import UserError

DEFAULT_HOLDOUT = 0.2
_EPS = 1e-6   # snippet units: tolerance for segment / span edges that sit on the snippet grid


def snippet_targets_from_segments(spec: FeatureSpec, num_snippets: int,
                                  segments: Sequence[tuple[str, float, float]],
                                  reviewed_spans_s: Sequence[tuple[float, float]],
                                  classes: Sequence[str],
                                  ambiguous_s: Sequence[tuple[float, float]] = ()) -> np.ndarray:
    """Snippet targets long [num_snippets]: -1 unknown, 0 background, c+1 class c.

    segments: (label, start_s, end_s) human segments (confirmed / edited / added); a snippet
    belongs to a segment when its centre lies in [start_s, end_s). Segments always label their
    snippets (a human segment is a reviewed statement). Where segments of different classes
    cover the same snippet the target is -1 (one class per snippet cannot say both).
    reviewed_spans_s: (start_s, end_s) spans the user has reviewed; a snippet outside every
    segment is background (0) only when its whole extent lies inside a reviewed span,
    otherwise it stays -1: unreviewed time is never treated as background.
    ambiguous_s: (start_s, end_s) spans marked ambiguous (THUMOS 'Ambiguous'): a snippet that
    overlaps one is never background (-1 instead of 0); a human segment there still labels.
    Labels not in `classes` raise UserError.
    """
    t = int(num_snippets)
    if t < 0:
        raise ValueError(f"num_snippets must be >= 0, got {num_snippets}")
    index = {c: i for i, c in enumerate(classes)}
    lo = np.arange(t, dtype=np.float64)          # snippet i covers [i, i + 1) in snippet units
    centre = lo + 0.5
    reviewed = np.zeros(t, dtype=bool)
    for start, end in reviewed_spans_s:
        a, b = spec.seconds_to_snippet(float(start)), spec.seconds_to_snippet(float(end))
        reviewed |= (lo >= a - _EPS) & (lo + 1.0 <= b + _EPS)
    for start, end in ambiguous_s:
        a, b = spec.seconds_to_snippet(float(start)), spec.seconds_to_snippet(float(end))
        reviewed &= ~((lo + 1.0 > a + _EPS) & (lo < b - _EPS))
    out = np.where(reviewed, 0, -1).astype(np.int64)
    label_of = np.full(t, -1, dtype=np.int64)    # class index per snippet, -2 = conflicting
    for label, start, end in segments:
        if label not in index:
            raise UserError(f"segment label '{label}' is not in the class list "
                            f"({', '.join(classes[:6])}{', ...' if len(classes) > 6 else ''})")
        a, b = spec.seconds_to_snippet(float(start)), spec.seconds_to_snippet(float(end))
        inside = (centre >= a) & (centre < b)
        c = index[label]
        label_of[inside & (label_of == -1)] = c
        label_of[inside & (label_of >= 0) & (label_of != c)] = -2
    out[label_of >= 0] = label_of[label_of >= 0] + 1
    out[label_of == -2] = -1
    return out


def split_holdout(videos: Sequence[FeatureVideo], fraction: float, seed: int) -> tuple[list, list]:
    """(train, held_out): a seeded share (>= 1 video, default 20 %) of the annotated videos held
    out; videos without segments always train (they cannot be evaluated). Needs >= 2 annotated
    videos, so that at least one trains and one is held out."""
    if not 0.0 < fraction < 1.0:
        raise UserError(f"held-out fraction must be between 0 and 1, got {fraction}")
    annotated = [v for v in videos if v.annotation.segments]
    if len(annotated) < 2:
        raise UserError(f"fine-tuning needs at least 2 videos with segments (one to train on, one "
                        f"held out to measure), got {len(annotated)}")
    n_hold = min(len(annotated) - 1, max(1, int(round(fraction * len(annotated)))))
    order = np.random.default_rng(np.random.SeedSequence([seed, 4242])).permutation(len(annotated))
    held_names = {annotated[i].name for i in order[:n_hold]}
    held = [v for v in annotated if v.name in held_names]
    train = [v for v in videos if v.name not in held_names]
    return train, held



def device_label(plan) -> str:
    """'cpu' or 'cuda:0 (NVIDIA H100 80GB HBM3)': the device a run uses, for its messages."""
    if plan.type != "cuda":
        return plan.type
    import torch

    index = plan.device.index if plan.device.index is not None else torch.cuda.current_device()
    return f"cuda:{index} ({torch.cuda.get_device_name(index)})"


def finetune_feature_set(base_ckpt: str | Path, feature_set: FeatureSet, subset: str, *, steps: int,
                         out: str | Path | None, seed: int = 0, lr: float | None = None,
                         snippet_weight: float = 1.0, holdout: float = DEFAULT_HOLDOUT,
                         progress: Callable[[dict], None] | None = None, cancel=None,
                         device: str | None = None):
    """Fine-tune `base_ckpt` on the annotated videos of `subset` and return the TrainResult.

    Every video of the subset counts as fully reviewed: its segments are the corrections,
    the rest is background (ambiguous spans excepted). `result.metrics["finetune"]` = {"subset",
    "held_out": [names], "train_videos": [names], "before": {...}, "after": {...}, "steps",
    "lr", "snippet_weight", ...} where before/after are {"average_mAP", "mAP": {tiou: value},
    "per_class": {class: AP averaged over the tIoUs}} on the held-out videos. The checkpoint
    (written atomically to `out` when given) records the parent and these figures.
    """
    videos = feature_set.by_subset(subset)
    if not videos:
        raise UserError(f"subset '{subset}' has no videos (subsets in the data: "
                        f"{', '.join(feature_set.subsets()) or 'none'})", path=feature_set.source or None)
    spec = feature_set.spec
    reviewed = {v.name: [(0.0, float(spec.snippet_to_seconds(v.num_snippets)))] for v in videos}
    return finetune_videos(base_ckpt, feature_set, videos, reviewed, steps=steps, out=out, seed=seed,
                           lr=lr, snippet_weight=snippet_weight, holdout=holdout, progress=progress,
                           cancel=cancel, device=device, info={"subset": subset})


def finetune_videos(base_ckpt: str | Path, feature_set: FeatureSet, videos: Sequence[FeatureVideo],
                    reviewed_spans_s: dict[str, Sequence[tuple[float, float]]], *, steps: int,
                    out: str | Path | None, seed: int = 0, lr: float | None = None,
                    snippet_weight: float = 1.0, holdout: float = DEFAULT_HOLDOUT,
                    progress: Callable[[dict], None] | None = None, cancel=None,
                    device: str | None = None, replay: Sequence[FeatureVideo] = (),
                    info: dict | None = None, events: Callable[[dict], None] | None = None):
    """THE fine-tuning core: `sdanet finetune --subset`, `--project` and the GUI all end here.

    videos: the corrected videos (FeatureVideos of `feature_set`; their annotation segments are
      the human segments, their `ambiguous` spans are never background);
    reviewed_spans_s: {video name: [(start_s, end_s), ...]} where the absence of a segment means
      background; everything else is unknown (-1);
    replay: further videos of `feature_set` trained with their video-level labels only (no
      snippet targets, never held out), against forgetting the base training set.
    The corrected videos are taken in name order, so the held-out split and the batch stream
    depend only on the material and `seed`, never on the order a caller listed them in.
    events(dict): {"type": "started", "device", "amp", "steps", "train_videos", "held_out",
      "replay_videos"} once the split and the device are known, then {"type": "eval", "phase":
      "before"/"after", "average_mAP", "mAP", "per_class"} around training. `progress` gets the
      trainer's step dicts; `cancel` is the trainer's StopFlag (Stop keeps the last weights,
      Cancel raises `Cancelled` and writes nothing). `info` is merged into metrics["finetune"].
    Returns the trainer's TrainResult; the checkpoint is written (atomically) to `out` only
    after the "after" evaluation, and only when `out` is given.
    """
    import torch

    from .checkpoint import check_compatible, load_checkpoint, load_weights, save_checkpoint
    from .config import SDANetConfig, apply_overrides
    from .device import choose_device
    from .localization import PostProcessing
    from .network import SDANet
    from .trainer import StopFlag, evaluate_model, train

    if int(steps) < 1:
        raise UserError(f"steps must be at least 1, got {steps}")
    emit = events or (lambda _msg: None)
    cancel = cancel or StopFlag()
    state, meta = load_checkpoint(base_ckpt)
    where = f"the data ({feature_set.source or 'feature set'})"
    check_compatible(meta, feature_set.classes, feature_set.spec, path=base_ckpt, data=where)
    corrected = sorted(videos, key=lambda v: v.name)
    replay = list(replay)
    clash = {v.name for v in corrected} & {v.name for v in replay}
    if clash:
        raise ValueError(f"replay videos share names with corrected videos: {sorted(clash)[:3]}")
    train_videos, held = split_holdout(corrected, holdout, seed)

    cfg = SDANetConfig.from_dict(meta.config, strict=False, source=f"{base_ckpt} (config)")
    overrides = [f"loss.snippet={float(snippet_weight)}"]
    if lr is not None:
        overrides.append(f"train.lr={float(lr)}")
    cfg = apply_overrides(cfg, overrides)

    spec = feature_set.spec
    targets = {}
    for v in train_videos:
        segs = [(s.label, s.start, s.end) for s in v.annotation.segments]
        targets[v.name] = snippet_targets_from_segments(
            spec, v.num_snippets, segs, reviewed_spans_s.get(v.name, ()), feature_set.classes,
            ambiguous_s=v.annotation.ambiguous)

    # The trainer reads the training videos' labels from their annotations (in this order);
    # the held-out ones are evaluated against theirs.
    fs = replace(feature_set, videos=corrected + replay, test_subset=None)
    plan = choose_device(device)
    params = PostProcessing.from_config(cfg)
    tious = [float(t) for t in cfg.eval.tiou_thresholds]
    trained = [v.name for v in train_videos if v.annotation.labels]
    replayed = [v.name for v in replay if v.annotation.labels]
    emit({"type": "started", "device": device_label(plan), "device_detail": plan.describe(),
          "amp": plan.precision != "fp32",
          "steps": int(steps), "train_videos": trained, "held_out": [v.name for v in held],
          "replay_videos": len(replayed)})

    def measure(model) -> dict:
        with torch.no_grad():
            m = evaluate_model(model, fs, held, params, tious, plan, per_class=True,
                               cancel=lambda: cancel.cancel_requested)
        if m["average_mAP"] is None or not math.isfinite(m["average_mAP"]):
            m["average_mAP"] = None
        return m

    base = SDANet(cfg, spec, len(feature_set.classes))
    load_weights(base, state, base_ckpt)
    base.to(plan.device).eval()
    before = measure(base)
    del base
    emit({"type": "eval", "phase": "before", **before})

    result = train(cfg, fs, out=None, iterations=int(steps), seed=seed, init_checkpoint=base_ckpt,
                   progress=progress, cancel=cancel, select_on="last", snippet_targets=targets,
                   train_videos=[v.name for v in train_videos] + [v.name for v in replay],
                   final_test=False, device=device)
    after = measure(result.model)
    emit({"type": "eval", "phase": "after", **after})
    result.meta.metrics["finetune"] = {
        **(info or {}), "held_out": [v.name for v in held], "train_videos": trained,
        "skipped_without_segments": [v.name for v in train_videos if not v.annotation.labels],
        "replay_videos": len(replayed),
        "before": before, "after": after, "steps": int(steps), "steps_done": result.steps_done,
        "stopped": result.stopped, "lr": float(cfg.train.lr), "seed": int(seed),
        "snippet_weight": float(snippet_weight), "holdout_fraction": float(holdout)}
    if out is not None:
        state_out = {k: v.detach().to("cpu") for k, v in result.model.state_dict().items()}
        save_checkpoint(out, state_out, result.meta)
        result.checkpoint = Path(out)
    return result
