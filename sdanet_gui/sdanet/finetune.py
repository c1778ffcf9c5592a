"""Fine-tuning a checkpoint on corrected videos: the Qt-free core of "Fine-tune" and `sdanet finetune`.

Why it exists: the GUI's one-click fine-tuning and its headless twin must train on exactly the
same signal, split off the same held-out videos and report the same before/after figures, so
that the same seed on the same material gives the same checkpoint. Both call this module.

What it does (`finetune_videos`, the one core; `finetune_feature_set` is the `--subset` entry,
`jobs/finetune_job.run_job` the project's, for fine-tuning and for a cold start):
  - starts from a base checkpoint, or from nothing with `cold_start_config` (a model of the
    project's own, measured against the model in use); refuses data whose feature dims differ
    (the checkpoint module's message, naming the checkpoint file). Classes the base lacks are
    grown into it (`checkpoint.grow_classes`: old rows kept, new rows the mean of the old
    ones), so the result knows the old classes plus the new ones, in that order;
  - turns segments, reviewed spans and ambiguous spans into snippet targets: inside a segment
    of class c the snippet target is c+1, other snippets inside a reviewed span are background
    (0), everything else (unreviewed, ambiguous) is -1 = unknown, never background.
    `snippet_targets_from_segments` is the one place that does this. `--subset` treats every
    video of the subset as reviewed whole; the project path passes the manifest's spans. A
    video reviewed before a class existed knows nothing of that class: its reviewed span is no
    background and its video label of that class is masked (dataset.UNLABELLED_KEY);
  - holds out a seeded share of the FULLY reviewed videos (`held_out_count`: 20 %, but 3 when
    that leaves 3 to train on), never trained on; a partly reviewed video only trains. Before
    and after are measured there (detection average mAP, per class) with a bootstrap interval
    over the held-out videos (held_out.py) that says how much the figure can be trusted;
  - trains with the weak video-level losses of the config plus the snippet loss
    (`loss.snippet`, weight `snippet_weight`), keeps the last weights, and writes a checkpoint
    whose metadata records the parent (by the trainer) and the figures under
    metrics["finetune"]; with the base's test videos (`replay_test`) also how the base test
    figure moved (forgetting).

What it must never do: import a UI toolkit, print, or do unit arithmetic itself (all
seconds <-> snippet conversions go through `FeatureSpec`).
"""

from __future__ import annotations

import json
import math
from dataclasses import replace
from pathlib import Path
from typing import Callable, Sequence

import numpy as np

from ..data.structures import FeatureSet, FeatureVideo
from ..data.units import FeatureSpec
from ..errors import UserError
from .checkpoint import grow_classes

DEFAULT_HOLDOUT = 0.2
# VideoAnnotation.meta key: classes a video's reviewed span says nothing about (created after it
# was reviewed, or unknown to the project): there "no segment" is not background
BACKGROUND_UNKNOWN_KEY = "background_unknown_for"
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


MIN_HELD_OUT_VIDEOS = 3   # below this the held-out figure decides nothing (session/adoption.py)


def fully_reviewed(spec: FeatureSpec, video: FeatureVideo,
                   reviewed_spans_s: Sequence[tuple[float, float]]) -> bool:
    """True when one reviewed span covers every snippet of `video` and the review speaks for
    every class (none was created after it): only then is the absence of a segment a
    statement, so only then may the video measure a model (held out)."""
    if video.annotation.meta and video.annotation.meta.get(BACKGROUND_UNKNOWN_KEY):
        return False
    end = float(spec.snippet_to_seconds(int(video.num_snippets or len(video.features()))))
    tol = _EPS * spec.snippet_seconds
    return any(float(a) <= tol and float(b) >= end - tol for a, b in reviewed_spans_s)


def held_out_count(candidates: int, fraction: float) -> int:
    """How many of `candidates` fully reviewed videos are held out: the share `fraction`, but at
    least MIN_HELD_OUT_VIDEOS while that leaves as many to train on (so that a project of 6
    reviewed videos can already decide), and none from a single video."""
    if candidates < 2:
        return 0
    n = max(int(round(fraction * candidates)), min(MIN_HELD_OUT_VIDEOS, candidates - MIN_HELD_OUT_VIDEOS), 1)
    return min(n, candidates - 1)


def video_snippet_targets(spec: FeatureSpec, video: FeatureVideo,
                          reviewed_spans_s: Sequence[tuple[float, float]], classes: Sequence[str]) -> np.ndarray:
    """`snippet_targets_from_segments` of one corrected video, where a reviewed span that says
    nothing about some class (meta[BACKGROUND_UNKNOWN_KEY]) is unknown instead of background:
    the reviewer could not mark an action of a class that did not exist yet."""
    segs = [(s.label, s.start, s.end) for s in video.annotation.segments]
    t = snippet_targets_from_segments(spec, video.num_snippets, segs, reviewed_spans_s, classes,
                                      ambiguous_s=video.annotation.ambiguous)
    if video.annotation.meta and video.annotation.meta.get(BACKGROUND_UNKNOWN_KEY):
        t[t == 0] = -1
    return t


def split_holdout(videos: Sequence[FeatureVideo], fraction: float, seed: int,
                  candidates: Sequence[str] | None = None) -> tuple[list, list]:
    """(train, held_out): a seeded share of the `candidates` (names of the fully reviewed videos;
    None: every video) held out (`held_out_count`), never trained on. Partly reviewed videos
    always train: a partly annotated video cannot measure a model. The training side keeps at
    least one video with segments (the held-out share shrinks when needed); UserError when no
    video has segments at all."""
    if not 0.0 < fraction < 1.0:
        raise UserError(f"held-out fraction must be between 0 and 1, got {fraction}")
    if not any(v.annotation.segments for v in videos):
        raise UserError(f"nothing to train on: none of the {len(videos)} videos has segments")
    pool = [v for v in videos if candidates is None or v.name in set(candidates)]
    order = np.random.default_rng(np.random.SeedSequence([seed, 4242])).permutation(len(pool))
    for n_hold in range(held_out_count(len(pool), fraction), 0, -1):
        held_names = {pool[i].name for i in order[:n_hold]}
        train = [v for v in videos if v.name not in held_names]
        if any(v.annotation.segments for v in train):
            return train, [v for v in pool if v.name in held_names]
    return list(videos), []


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


def finetune_videos(base_ckpt: str | Path | None, feature_set: FeatureSet, videos: Sequence[FeatureVideo],
                    reviewed_spans_s: dict[str, Sequence[tuple[float, float]]], *, steps: int,
                    out: str | Path | None, seed: int = 0, lr: float | None = None,
                    snippet_weight: float = 1.0, holdout: float = DEFAULT_HOLDOUT,
                    progress: Callable[[dict], None] | None = None, cancel=None,
                    device: str | None = None, replay: Sequence[FeatureVideo] = (),
                    replay_test: Sequence[FeatureVideo] = (), info: dict | None = None,
                    events: Callable[[dict], None] | None = None, config=None,
                    compare_ckpt: str | Path | None = None):
    """THE fine-tuning core: `sdanet finetune --subset`, `--project`, `sdanet train --project`
    and the window all end here.

    base_ckpt: the checkpoint to start from; None = a cold start from `config` (an
      SDANetConfig, `cold_start_config`), measured against `compare_ckpt` (the model in use, if
      any and if it reads these features) as "before".
    feature_set.classes: the base's classes, then the classes it does not know yet (the
      training-set builder orders them so); the new classes' rows are grown (`grow_classes`,
      mean of the old rows), and the result's class list is the old one plus the new ones;
    videos: the corrected videos (FeatureVideos of `feature_set`; their annotation segments are
      the human segments, their `ambiguous` spans are never background; annotation.meta
      [BACKGROUND_UNKNOWN_KEY]: classes its reviewed span says nothing about (then it is no
      background), [dataset.UNLABELLED_KEY]: classes whose video label is unknown (masked in
      the video-level losses);
    reviewed_spans_s: {video name: [(start_s, end_s), ...]} where the absence of a segment means
      background; everything else is unknown (-1);
    replay: further videos of `feature_set` (the base's training set), never held out, trained
      like corrected videos reviewed whole (their annotations are that set's ground truth),
      against forgetting: with video-level labels only, 10 corrected videos of a shifted
      domain cost a synthetic base 17 of its 51 test points; with their segments as snippet
      targets too it kept them all (docs/loop.md, "Reading it");
      replay_test: the base's test videos, measured before and after ("base_test");
    The corrected videos are taken in name order, so the held-out split and the batch stream
    depend only on the material and `seed`, never on the order a caller listed them in. Only
    fully reviewed videos are held out (`split_holdout`); the held-out report carries a
    bootstrap interval over them (held_out.py).
    events(dict): {"type": "started", "device", "amp", "steps", "train_videos", "held_out",
      "replay_videos", "classes", "new_classes", "cold_start", "held_out_segments"} once the split
      and the device are known, then {"type": "eval", "phase": "before"/"after", "average_mAP",
      "mAP", "per_class"} around training (before: all None when there is nothing to compare
      with). `progress` gets the trainer's step dicts; `cancel` is the trainer's StopFlag (Stop
      keeps the last weights, Cancel raises `Cancelled` and writes nothing). `info` is merged
      into metrics["finetune"], which also holds "held_out_report" (HeldOutReport.to_dict()),
      "classes", "new_classes" and, with replay_test, "base_test": {"before", "after", "videos"}.
    Returns the trainer's TrainResult; the checkpoint is written (atomically) to `out` only
    after the "after" evaluation, and only when `out` is given.
    """
    import tempfile

    from .checkpoint import (CheckpointMeta, check_compatible, load_checkpoint, load_weights, save_checkpoint,
                             state_hash)
    from .config import SDANetConfig, apply_overrides
    from .device import choose_device
    from .held_out import compare_on_held_out
    from .localization import PostProcessing
    from .predict import build_model
    from .trainer import StopFlag, train

    if int(steps) < 1:
        raise UserError(f"steps must be at least 1, got {steps}")
    emit = events or (lambda _msg: None)
    cancel = cancel or StopFlag()
    classes = list(feature_set.classes)
    where = f"the data ({feature_set.source or 'feature set'})"
    cold = base_ckpt is None
    if cold:
        if config is None:
            raise ValueError("a cold start needs a config")
        state = meta = None
        cfg, old_classes = config, []
    else:
        state, meta = load_checkpoint(base_ckpt)
        old_classes = list(meta.classes)
        grows = classes[:len(old_classes)] == old_classes and len(classes) > len(old_classes)
        check_compatible(meta, old_classes if grows else classes, feature_set.spec, path=base_ckpt, data=where)
        cfg = SDANetConfig.from_checkpoint(meta.config, source=f"{base_ckpt} (config)")
    new_classes = classes[len(old_classes):] if not cold else []
    corrected = sorted(videos, key=lambda v: v.name)
    replay = list(replay)
    clash = {v.name for v in corrected} & {v.name for v in replay}
    if clash:
        raise ValueError(f"replay videos share names with corrected videos: {sorted(clash)[:3]}")
    spec = feature_set.spec
    full = [v.name for v in corrected if fully_reviewed(spec, v, reviewed_spans_s.get(v.name, ()))]
    train_videos, held = split_holdout(corrected, holdout, seed, candidates=full)

    overrides = [f"loss.snippet={float(snippet_weight)}"]
    if lr is not None:
        overrides.append(f"train.lr={float(lr)}")
    cfg = apply_overrides(cfg, overrides)

    targets = {v.name: video_snippet_targets(spec, v, reviewed_spans_s.get(v.name, ()), classes)
               for v in train_videos}
    for v in replay:   # a training set's annotations are its whole ground truth
        if v.annotation.segments:
            whole = [(0.0, float(spec.snippet_to_seconds(v.num_snippets or len(v.features()))))]
            targets[v.name] = video_snippet_targets(spec, v, whole, classes)

    # The trainer reads the training videos' labels from their annotations (in this order);
    # the held-out ones are evaluated against theirs.
    fs = replace(feature_set, videos=corrected + replay, test_subset=None)
    plan = choose_device(device)
    tious = [float(t) for t in cfg.eval.tiou_thresholds]
    trained = [v.name for v in train_videos if v.annotation.labels]
    replayed = [v.name for v in replay if v.annotation.labels]
    held_segments = sum(len(v.annotation.segments) for v in held)
    emit({"type": "started", "device": device_label(plan), "device_detail": plan.describe(),
          "amp": plan.precision != "fp32", "steps": int(steps), "train_videos": trained,
          "held_out": [v.name for v in held], "held_out_segments": held_segments,
          "replay_videos": len(replayed), "classes": classes, "new_classes": new_classes,
          "cold_start": cold})

    def predict(model, model_classes, model_cfg, on):
        import torch

        from .predict import predict_videos

        with torch.no_grad():
            return predict_videos(model, spec, model_classes, on, PostProcessing.from_config(model_cfg),
                                  plan, cancel=lambda: cancel.cancel_requested)

    # "before": the base (or, for a cold start, the model in use) on the held-out videos; a
    # class it does not know simply gets AP 0 there.
    before_model = before_classes = before_cfg = None
    if not cold:
        before_model, before_classes, before_cfg = build_model(meta.config, spec, len(old_classes)), old_classes, cfg
        load_weights(before_model, state, base_ckpt)
    elif compare_ckpt is not None:
        cstate, cmeta = load_checkpoint(compare_ckpt)
        if [d for _, d in cmeta.feature_spec.modalities] == [d for _, d in spec.modalities]:
            before_model = build_model(cmeta.config, spec, len(cmeta.classes))
            load_weights(before_model, cstate, compare_ckpt)
            before_classes = list(cmeta.classes)
            before_cfg = SDANetConfig.from_checkpoint(cmeta.config, source=f"{compare_ckpt} (config)")
    before_preds = base_test_preds = None
    if before_model is not None:
        before_model.to(plan.device).eval()
        before_preds = predict(before_model, before_classes, before_cfg, held)
        if replay_test:
            base_test_preds = predict(before_model, before_classes, before_cfg, replay_test)
        del before_model
    before = _figures(held, before_preds, tious, classes)
    emit({"type": "eval", "phase": "before", **before})

    with tempfile.TemporaryDirectory(prefix="sdanet-grow-") as tmp:
        init = base_ckpt
        if new_classes:   # the base with rows for the new classes, for the trainer to start from
            reference = {k: tuple(v.shape) for k, v in build_model(meta.config, spec, len(classes)).state_dict().items()}
            grown = grow_classes(state, old_classes, new_classes, reference, seed=seed)
            init = Path(tmp) / "grown.pt"
            save_checkpoint(init, grown, CheckpointMeta(**{**vars(meta), "classes": classes}))
        result = train(cfg, fs, out=None, iterations=int(steps), seed=seed, init_checkpoint=init,
                       progress=progress, cancel=cancel, select_on="last", snippet_targets=targets,
                       train_videos=[v.name for v in train_videos] + [v.name for v in replay],
                       final_test=False, device=device)
    if new_classes:
        result.meta.parent = {"path": str(base_ckpt), "weights": state_hash(state)[:16],
                              "data_fingerprint": meta.data_fingerprint, "step": meta.step,
                              "classes_added": new_classes}
    after_preds = predict(result.model, classes, cfg, held)
    after = _figures(held, after_preds, tious, classes)
    emit({"type": "eval", "phase": "after", **after})
    gt = feature_set.annotations(None)
    gt.videos = {v.name: v.annotation for v in held}
    report = compare_on_held_out(gt, after_preds, before_preds, tious, classes, seed=seed)
    figures = {
        **(info or {}), "held_out": [v.name for v in held], "train_videos": trained,
        "skipped_without_segments": [v.name for v in train_videos if not v.annotation.labels],
        "replay_videos": len(replayed), "before": before, "after": after,
        "held_out_report": report.to_dict(), "classes": classes, "new_classes": new_classes,
        "cold_start": cold, "steps": int(steps), "steps_done": result.steps_done,
        "stopped": result.stopped, "lr": float(cfg.train.lr), "seed": int(seed),
        "snippet_weight": float(snippet_weight), "holdout_fraction": float(holdout)}
    if replay_test:
        base_test = {"videos": len(replay_test),
                     "before": _figures(replay_test, base_test_preds, tious, old_classes)["average_mAP"],
                     "after": _figures(replay_test, predict(result.model, classes, cfg, replay_test),
                                       tious, old_classes)["average_mAP"]}
        figures["base_test"] = base_test
    result.meta.metrics["finetune"] = figures
    if out is not None:
        state_out = {k: v.detach().to("cpu") for k, v in result.model.state_dict().items()}
        save_checkpoint(out, state_out, result.meta)
        result.checkpoint = Path(out)
    return result


def _figures(videos: Sequence[FeatureVideo], preds, tious: Sequence[float], classes: Sequence[str]) -> dict:
    """{"average_mAP", "mAP": {tiou: value}, "per_class": {class: AP over the tIoUs}} of `preds`
    on `videos` (the classes with ground truth there); every value None without predictions
    (nothing to compare with) or without videos."""
    from ..data.structures import AnnotationSet
    from .evaluation import detection_map

    if preds is None or not videos:
        return {"average_mAP": None, "mAP": {f"{t:.2f}": None for t in tious}, "per_class": {}}
    gt = AnnotationSet({v.name: v.annotation for v in videos}, list(classes))
    res = detection_map(gt, preds, list(tious), classes=list(classes))
    avg = float(res.average_map)
    return {"average_mAP": avg if math.isfinite(avg) else None,
            "mAP": {f"{t:.2f}": float(m) for t, m in zip(tious, np.asarray(res.map).reshape(-1))},
            "per_class": {c: row["average"] for c, row in res.per_class.items()}}


def cold_start_config(spec: FeatureSpec):
    """The config of a model trained from nothing on a project's features: widths that follow
    the feature width (SDANet's fixed 512-wide layers dominate the cost on small features and
    overfit a few dozen videos), the `synthetic` preset's small-data training settings for
    features up to 256-d per modality, the `thumos14` preset (the paper's widths and learning
    rate) for I3D-sized ones. `train.iterations` is the number of steps a cold start runs by
    default (COLD_START_STEPS)."""
    from .config import apply_overrides, load_preset

    per_modality = max(d for _, d in spec.modalities)
    if per_modality > 256:
        cfg = load_preset("thumos14")
    else:
        cfg = load_preset("synthetic")
        hidden = int(min(256, max(32, 2 ** round(math.log2(per_modality)))))
        cfg = apply_overrides(cfg, [f"model.hidden_dim={hidden}", f"model.attention_hidden={hidden // 2}",
                                    f"model.sda_ffn_dim={2 * hidden}", f"model.pfm_proj_dim={hidden // 2}"])
    data = [f"data.fps={spec.fps}", f"data.snippet_frames={spec.snippet_frames}",
            f"data.stride_frames={spec.stride_frames}", f"train.iterations={COLD_START_STEPS}",
            "data.modalities=" + json.dumps([[n, int(d)] for n, d in spec.modalities])]
    return apply_overrides(cfg, data)


COLD_START_STEPS = 400
TRAINING_SET_KEY = "training_set"   # CheckpointMeta.metrics: where the weights were trained


def record_training_set(meta, feature_set: FeatureSet) -> None:
    """Write into `meta.metrics` where its weights were trained (`sdanet train --data`): a later
    fine-tuning replays that set by default against forgetting, and measures how much of the
    base test figure it kept."""
    meta.metrics[TRAINING_SET_KEY] = {"path": str(Path(feature_set.source).absolute()),
                                      "train_subset": feature_set.train_subset,
                                      "test_subset": feature_set.test_subset}


def recorded_training_set(meta) -> str | None:
    """The training feature set a checkpoint records (`record_training_set`) when it still
    exists, else None."""
    entry = (meta.metrics or {}).get(TRAINING_SET_KEY)
    path = entry.get("path") if isinstance(entry, dict) else None
    return path if path and Path(path).exists() else None
