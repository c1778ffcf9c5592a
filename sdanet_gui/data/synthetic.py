"""A seeded synthetic feature set: the engine's test bed (numpy only).

Why it exists: tests and benchmarks must show that SDANet *learns* (mAP far above an untrained
model) and that each module can matter, without real I3D features. The videos here are
untrimmed sequences of snippet features with planted action instances that carry the traps
SDANet is designed for. This module never imports torch and never touches real data; it only
writes into the folder it is given.

Generative model (everything drawn from `numpy.random.default_rng`, keyed by `seed`):

World (shared by all videos of a seed; key [seed, 7919]), per modality m with dim d_m:
  P[m, c]   unit class prototype of class c (Gaussian, normalised).
  Q[c]      unit *context* prototype of class c, modality 0 only (e.g. the pool next to a
            swimmer): 0.6 P[0, c] + 0.8 (a random direction orthogonal to it).
  G[m, k]   K = 4 unit distractor patterns (background events unrelated to any class).
  R[m, c]   unit direction orthogonal to P[m, c], used by the domain shift.
Domain shift (`domain` = x >= 0): every prototype is rotated by theta = x * 70 degrees toward
its R direction, P_x = cos(theta) P + sin(theta) R (the same for Q), and the background mean of
every video moves by 1.5 x along a fixed direction. At x = 1 a prototype keeps cos 70 = 0.34 of
its old direction. Measured (baseline model, `synthetic` preset, 200 steps at x = 0): test
average mAP 23.7 % at x = 0, 2.7 % at x = 1; fine-tuning 100 steps on 8 reviewed x = 1 videos
(snippet targets from their segments, loss.snippet = 1) brings x = 1 back to 13.9 % (with
video-level labels only: 4.7 %); at x = 0.6: 11.7 % -> 20.8 %.
The layout of a video (length, instances, noise) does not depend on `domain`: the same seed and
index give the same segments at every domain, only the appearance changes.

Video i of subset s (key [seed, s, i]), T ~ U{min_snippets..max_snippets} snippets:
  labels     a primary class (cycling over a seeded class order, so every class has videos
             and same-class pairs exist) and with p = 0.25 a second class.
  instances  "short-heavy" videos (p = 0.3): 3-8 instances of 2-4 snippets per primary class;
             other videos 1-3 instances whose length is 2-4 (35 %), 5-12 (40 %) or
             13-min(40, T/4) (25 %) snippets. Instances never overlap and keep a 3-snippet gap.
  amplitude  a = A * U(0.75, 1.25), A = 4 noise units, along P_x[m, c] (at A = 2.5 a baseline
             learned almost nothing in 200 CPU steps; at 4 it reaches ~30 % average mAP).
  weak middle  p = 0.5 for instances of >= 5 snippets: the central 40 % has 0.25 a (the
             ground truth still spans the whole instance: a pause inside an action).
  split evidence  p = 0.5 (>= 2 modalities): one random modality carries a, the others 0.2 a.
  context    p = 0.5: modality 0 gets 0.8 a along Q_x[c] on 2-3 snippets just before and/or
             just after the instance (never labelled as action).
  distractors  0-3 events of 3-10 snippets along a random G[., k] in every modality, 0.6-1.1 A.
  background a per-video offset (norm U(0.5, 2.0), random direction, + the domain shift) and
             temporally correlated noise: AR(1) with rho = 0.5, std U(0.8, 1.2) per video.
Features are float32 [T, sum d_m], modality columns in spec order (rgb first). Ground truth
segments are in seconds on the spec's snippet grid; each `Segment.meta` records the traps the
instance carries (`weak_middle`, `strong_modality`, `context`, `short`) for per-trap analyses.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from . import synthetic_i3d
from .structures import FeatureSet, FeatureVideo, Segment, VideoAnnotation
from .synthetic_layout import (SyntheticParams, ar1, context_spans, distractor_spans, instance_profile,
                               placed_instances, video_layout)
from .units import FeatureSpec

TRAIN, TEST = "train", "test"
_SUBSET_KEY = {TRAIN: 1, TEST: 2}
BUNDLE_NAME = "Synthetic"   # W-TALC bundle: Synthetic-I3D-JOINTFeatures.npy + Synthetic-Annotations/


@dataclass
class _World:
    proto: list[np.ndarray]        # per modality [C, d_m]
    rot: list[np.ndarray]          # per modality [C, d_m]
    context: np.ndarray            # [C, d_0]
    context_rot: np.ndarray        # [C, d_0]
    distractor: list[np.ndarray]   # per modality [K, d_m]
    shift_dir: list[np.ndarray]    # per modality [d_m]


def _unit(v: np.ndarray) -> np.ndarray:
    return v / np.maximum(np.linalg.norm(v, axis=-1, keepdims=True), 1e-12)


def _orthogonal_to(rng, base: np.ndarray) -> np.ndarray:
    """Unit vectors orthogonal to each row of `base` (rows unit). [N, d] -> [N, d]"""
    g = rng.standard_normal(base.shape)
    g = g - (g * base).sum(-1, keepdims=True) * base
    return _unit(g)


def _make_world(seed: int, num_classes: int, dims: list[int]) -> _World:
    rng = np.random.default_rng([seed, 7919])
    proto = [_unit(rng.standard_normal((num_classes, d))) for d in dims]
    rot = [_orthogonal_to(rng, p) for p in proto]
    ctx_free = _orthogonal_to(rng, proto[0])
    context = _unit(0.6 * proto[0] + 0.8 * ctx_free)
    context_rot = _orthogonal_to(rng, context)
    distractor = [_unit(rng.standard_normal((4, d))) for d in dims]
    shift_dir = [_unit(rng.standard_normal(d)) for d in dims]
    return _World(proto, rot, context, context_rot, distractor, shift_dir)


def _rotate(base: np.ndarray, toward: np.ndarray, theta: float) -> np.ndarray:
    return _unit(math.cos(theta) * base + math.sin(theta) * toward)


def _make_video(world: _World, p: SyntheticParams, *, seed: int, subset: str, index: int,
                primary: int, num_classes: int, dims: list[int], names: list[str],
                t_range: tuple[int, int], domain: float):
    """One video: features [T, D] float32 and its annotation pieces (snippet units)."""
    rng = np.random.default_rng([seed, _SUBSET_KEY[subset], index])
    t, classes, short_heavy = video_layout(rng, p, primary, num_classes, t_range)
    m_count = len(dims)
    theta = math.radians(p.domain_angle_deg) * domain
    proto = [_rotate(world.proto[m], world.rot[m], theta) for m in range(m_count)]
    context = _rotate(world.context, world.context_rot, theta)

    signal = [np.zeros((t, d)) for d in dims]
    occupied = np.zeros(t, dtype=bool)
    instances = []  # (class, start, end, meta)
    for c, s, e in placed_instances(rng, p, classes, short_heavy, occupied):
        a = p.amplitude * rng.uniform(0.75, 1.25)
        profile, weak, levels, strong = instance_profile(rng, p, e - s, names)
        for m in range(m_count):
            signal[m][s:e] += (a * levels[m] * profile)[:, None] * proto[m][c][None, :]
        has_context = rng.random() < p.context_prob
        instances.append((c, s, e, {"weak_middle": bool(weak), "strong_modality": strong,
                                    "context": bool(has_context), "short": e - s < 4}))
        for span in context_spans(rng, s, e, occupied) if has_context else ():
            signal[0][span] += p.context_level * a * context[c][None, :]
    labelled = sorted({c for c, *_ in instances})

    for s, length in distractor_spans(rng, p, occupied):
        k = int(rng.integers(0, world.distractor[0].shape[0]))
        a = p.amplitude * rng.uniform(0.6, 1.1)
        for m in range(m_count):
            signal[m][s:s + length] += a * world.distractor[m][k][None, :]

    parts = []
    sigma = rng.uniform(0.8, 1.2)
    rho = p.noise_rho
    for m, d in enumerate(dims):
        offset = _unit(rng.standard_normal(d)) * rng.uniform(0.5, 2.0)
        offset = offset + p.domain_background_shift * domain * world.shift_dir[m]
        parts.append(signal[m] + offset[None, :] + sigma * ar1(rng, t, d, rho))
    features = np.concatenate(parts, axis=1).astype(np.float32)
    return features, instances, labelled


MODES = ("gaussian", "i3d")


def make_synthetic(*, seed: int = 0, num_classes: int = 5, dim: int = 64, train_videos: int = 40,
                   test_videos: int = 20, min_snippets: int = 80, max_snippets: int = 200,
                   domain: float = 0.0, spec: FeatureSpec | None = None,
                   params: SyntheticParams | None = None, mode: str = "gaussian",
                   i3d_params=None) -> FeatureSet:
    """The synthetic feature set in memory: subsets "train" and "test".

    `dim` is per modality (rgb + flow) unless `spec` gives the modalities (any number, any
    dims). Each `FeatureVideo.features()` returns its stored read-only float32 [T, D] array.
    `mode` "gaussian" (default) is the model in this module's docstring; "i3d" builds
    non-negative, sparse, shot-structured features like two-stream I3D (`synthetic_i3d`,
    knobs in `i3d_params`); its annotations carry `meta["content_changes"]`: [(snippet, kind)]
    with kind "action" (an instance boundary), "shot" or "distractor". `domain` must be 0 there.
    """
    if mode not in MODES:
        raise ValueError(f"unknown synthetic mode {mode!r} (choose {', '.join(MODES)})")
    if mode == "i3d" and domain:
        raise ValueError("the i3d synthetic mode has no domain shift; use domain=0")
    if num_classes < 1:
        raise ValueError(f"num_classes must be >= 1, got {num_classes}")
    if not 10 <= min_snippets <= max_snippets:
        raise ValueError(f"need 10 <= min_snippets <= max_snippets, got {min_snippets}, {max_snippets}")
    if train_videos < 0 or test_videos < 0 or dim < 1 or domain < 0:
        raise ValueError("train_videos, test_videos and domain must be >= 0, dim >= 1")
    p = params or SyntheticParams()
    spec = spec or FeatureSpec(25.0, 16, 16, (("rgb", int(dim)), ("flow", int(dim))))
    dims = [d for _, d in spec.modalities]
    names = list(spec.modality_names)
    classes = [f"class{c:02d}" for c in range(num_classes)]
    if mode == "i3d":
        ip = i3d_params or synthetic_i3d.I3DLikeParams()
        world = synthetic_i3d.make_world(seed, num_classes, dims, ip)
    else:
        world = _make_world(seed, num_classes, dims)
    videos = []
    for subset, count in ((TRAIN, train_videos), (TEST, test_videos)):
        order = np.random.default_rng([seed, _SUBSET_KEY[subset], 10 ** 6]).permutation(num_classes)
        for i in range(count):
            primary = int(order[i % num_classes])
            changes = None
            if mode == "i3d":
                rng = np.random.default_rng([seed, _SUBSET_KEY[subset], i, 3])
                t, present, short_heavy = video_layout(rng, p, primary, num_classes, (min_snippets, max_snippets))
                feats, instances, changes = synthetic_i3d.make_video(
                    world, p, ip, rng=rng, t=t, classes=present, short_heavy=short_heavy, dims=dims,
                    names=names)
            else:
                feats, instances, _ = _make_video(
                    world, p, seed=seed, subset=subset, index=i, primary=primary,
                    num_classes=num_classes, dims=dims, names=names,
                    t_range=(min_snippets, max_snippets), domain=float(domain))
            feats.setflags(write=False)
            name = f"syn_{subset}_{i:04d}"
            t = feats.shape[0]
            segments = [Segment(classes[c], float(spec.snippet_to_seconds(s)), float(spec.snippet_to_seconds(e)),
                                meta=dict(meta)) for c, s, e, meta in sorted(instances, key=lambda r: r[1])]
            ann = VideoAnnotation(name, subset, float(spec.snippet_to_seconds(t)), segments, fps=spec.fps,
                                  meta={"content_changes": changes} if changes is not None else {})
            videos.append(FeatureVideo(name, ann, _loader=(lambda a=feats: a), num_snippets=t))
    source = f"synthetic(seed={seed}, classes={num_classes}, domain={domain:g}" + \
        (", mode=i3d)" if mode == "i3d" else ")")
    return FeatureSet(spec, classes, videos, TRAIN, TEST, source=source)


def write_synthetic(out_dir, fmt: str = "pervideo", *, layout: str = "npy", **kwargs) -> Path:
    """Generate with `make_synthetic(**kwargs)` and write it to `out_dir`; returns the data path.

    fmt "pervideo": out_dir/features/<video>.npy [T, D] float32 + out_dir/annotations.json
    (ActivityNet layout with fps, snippet_frames, stride_frames, modalities, class_list,
    train_subset, test_subset); `layout` picks another per-video layout of
    `feature_sets.write_pervideo_feature_set` ("rgb_flow", "h5", "set_h5"). fmt "wtalc":
    out_dir/Synthetic-I3D-JOINTFeatures.npy + out_dir/Synthetic-Annotations/ (the spec is not
    stored there: readers take 25 fps / 16-frame snippets from the preset, which is what the
    generator uses by default). Files are replaced atomically by those writers.
    """
    from .feature_sets import write_pervideo_feature_set, write_wtalc_bundle

    fs = make_synthetic(**kwargs)
    videos = {v.name: (np.asarray(v.features()), v.annotation) for v in fs.videos}
    if fmt == "pervideo":
        return write_pervideo_feature_set(out_dir, fs.spec, list(fs.classes), videos, fs.train_subset,
                                          fs.test_subset, layout=layout)
    if fmt == "wtalc":
        return write_wtalc_bundle(out_dir, BUNDLE_NAME, fs.spec, list(fs.classes), videos)
    raise ValueError(f"unknown synthetic format {fmt!r} (pervideo or wtalc)")
