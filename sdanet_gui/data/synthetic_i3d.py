"""The I3D-like mode of the synthetic feature set (`make_synthetic(mode="i3d")`), numpy only.

Why it exists: the default ("gaussian") generator draws features as class directions plus AR(1)
Gaussian noise that holds about 90 % of the energy, so snippet differences are mostly noise and
a boundary changes a snippet by about as much as the noise does. Two-stream I3D features of
real videos are not like that (measured on the real features in `tests/assets/features`,
`benchmarks/feature_stats.py`): they are non-negative (post-ReLU averages), a few channels
carry most of each snippet's energy, most of the energy is a per-video/per-shot component,
consecutive snippets are very similar (cosine 0.9-0.98 for rgb, 0.6-0.9 for flow) and a change
of content moves a snippet several times more than the within-shot jitter. This mode builds
videos from those properties so that modules that look at snippet differences (SDA) or at
scales (MTFF) have something to find. It is a test bed, not a model of any data set.

Generative model (per modality m of width d; everything from `numpy.random.default_rng`):
World (key [seed, 7919, 3]):
  s[m]       per-channel scale, log-normal (sigma `channel_spread`), mean 1: a few channels are
             large everywhere (real I3D: channel means spread p90/median 3.2, p99/median 6.7).
  P[m, c]    class pattern: non-negative, on `class_channels` x d channels (3 % by default).
  S[c]       class scene (rgb only): the look of the place where class c happens (the pool).
  G[m, k]    4 distractor patterns, as sparse as class patterns (background events).
Video (key [seed, subset, index, 3]), T snippets:
  background shots of `shot_min`..`shot_max` snippets: each shot's content is the video's
             scene (rgb: mixed with S[primary class], `scene_context`) blended with a new random
             content; a shot change is a sharp change of content that is NOT an action.
  instances  as the gaussian mode places them (short-heavy videos, 2-4 / 5-12 / 13-40 snippets,
             3-snippet gaps); inside one, the content is (1 - b) shot + b (A P[m, c] + instance
             variation) with b = `action_blend`: a sharp change at both boundaries.
  weak middle, split evidence and context as in the gaussian mode (b lowered in the middle;
             one modality strong; rgb shows S[c] on 2-3 snippets next to an instance).
  distractors  0-3 events of 3-10 snippets blending in a G pattern like an action would.
  jitter     every channel is multiplied by exp(sigma_m e_t - sigma_m^2 / 2), e an AR(1) process
             over time (rho `jitter_rho`), sigma per modality (flow moves more than rgb).
  floor      x = max(0, x - floor x_mean): the exact zeros of post-ReLU features.
The result is scaled to a mean element of `rgb_mean` / `flow_mean` (real: about 0.25 / 0.17).
Other modalities than rgb/flow (any number) use the flow settings from the second one on.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .synthetic_layout import (SyntheticParams, ar1, context_spans, distractor_spans, instance_profile,
                               placed_instances)

_MODE_KEY = 3   # keeps this mode's random streams apart from the gaussian mode's


@dataclass(frozen=True)
class I3DLikeParams:
    """Knobs of the I3D-like mode (defaults: the statistics measured on real I3D features)."""

    channel_spread: float = 0.7       # log-normal sigma of the per-channel scale
    content_shape: float = 2.0        # Gamma shape of random content (smaller = sparser)
    class_channels: float = 0.06      # fraction of channels a class pattern lives on
    action_blend: float = 0.7         # b: share of an instance's content that is the class pattern
    action_amplitude: float = 2.0     # A: class pattern strength relative to unit-mean content
    instance_variation: float = 0.5   # per-instance random change of the pattern (same channels)
    scene_context: float = 0.35       # rgb: share of the class scene in a video's background
    shot_min: int = 15
    shot_max: int = 80
    shot_blend: float = 0.35          # share of new content in each background shot
    jitter_rgb: float = 0.33
    jitter_flow: float = 0.55
    jitter_rho: float = 0.3
    floor: float = 0.08               # zeros: x - floor * mean(x), clipped at 0
    rgb_mean: float = 0.25
    flow_mean: float = 0.17


def _content(rng, d: int, shape: float) -> np.ndarray:
    """A random non-negative content vector with mean 1."""
    v = rng.gamma(shape, 1.0, d)
    return v / max(v.mean(), 1e-12)


def _sparse_pattern(rng, d: int, fraction: float, shape: float = 2.0) -> np.ndarray:
    """A non-negative pattern on max(2, round(fraction d)) random channels, mean over them 1."""
    k = max(2, int(round(fraction * d)))
    out = np.zeros(d)
    idx = rng.choice(d, size=k, replace=False)
    vals = rng.gamma(shape, 1.0, k)
    out[idx] = vals / vals.mean()
    return out


@dataclass
class _WorldI3D:
    scale: list[np.ndarray]        # per modality [d]
    pattern: list[np.ndarray]      # per modality [C, d]
    scene: np.ndarray              # [C, d_0]
    distractor: list[np.ndarray]   # per modality [K, d]


def make_world(seed: int, num_classes: int, dims: list[int], p: I3DLikeParams) -> _WorldI3D:
    rng = np.random.default_rng([seed, 7919, _MODE_KEY])
    scale = []
    for d in dims:
        s = np.exp(rng.normal(0.0, p.channel_spread, d))
        scale.append(s / s.mean())
    pattern = [np.stack([_sparse_pattern(rng, d, p.class_channels) for _ in range(num_classes)])
               for d in dims]
    scene = np.stack([_content(rng, dims[0], p.content_shape) for _ in range(num_classes)])
    distractor = [np.stack([_sparse_pattern(rng, d, p.class_channels) for _ in range(4)]) for d in dims]
    return _WorldI3D(scale, pattern, scene, distractor)


def _shots(rng, t: int, p: I3DLikeParams) -> np.ndarray:
    """Shot index of every snippet [T]: background shots of shot_min..shot_max snippets."""
    ids = np.zeros(t, dtype=np.int64)
    pos, k = 0, 0
    while pos < t:
        n = int(rng.integers(p.shot_min, p.shot_max + 1))
        ids[pos:pos + n] = k
        pos, k = pos + n, k + 1
    return ids


def make_video(world: _WorldI3D, gp: SyntheticParams, p: I3DLikeParams, *, rng, t: int,
               classes: list[int], short_heavy: bool, dims: list[int], names: list[str]):
    """Features [T, sum d] float32, instances [(class, start, end, meta)] and the snippets where
    content changes [(index, kind)] ("action" at instance boundaries, "shot", "distractor")."""
    m_count = len(dims)
    shot_id = _shots(rng, t, p)
    n_shots = int(shot_id.max()) + 1
    # Content of the background per modality: [T, d] (piecewise constant over shots).
    content = []
    for m, d in enumerate(dims):
        scene = _content(rng, d, p.content_shape)
        if m == 0:
            scene = (1 - p.scene_context) * scene + p.scene_context * world.scene[classes[0]]
        shots = np.stack([(1 - p.shot_blend) * scene + p.shot_blend * _content(rng, d, p.content_shape)
                          for _ in range(n_shots)])
        content.append(shots[shot_id])
    changes = [(int(i), "shot") for i in np.flatnonzero(np.diff(shot_id)) + 1]
    blend = [np.zeros(t) for _ in dims]          # share of the snippet replaced by an event
    event = [np.zeros((t, d)) for d in dims]     # the event's content (class or distractor)

    occupied = np.zeros(t, dtype=bool)
    instances = []
    for c, s, e in placed_instances(rng, gp, classes, short_heavy, occupied):
        profile, weak, levels, strong = instance_profile(rng, gp, e - s, names)
        amp = p.action_amplitude * rng.uniform(0.75, 1.25)
        for m, d in enumerate(dims):
            pat = world.pattern[m][c]
            var = pat * rng.gamma(1.0 / max(p.instance_variation, 1e-6) ** 2,
                                  max(p.instance_variation, 1e-6) ** 2, d)
            blend[m][s:e] = p.action_blend * levels[m] * profile
            event[m][s:e] = amp * var
        has_context = rng.random() < gp.context_prob
        for span in context_spans(rng, s, e, occupied) if has_context else ():
            content[0][span] = (1 - gp.context_level) * content[0][span] + gp.context_level * world.scene[c]
        instances.append((c, s, e, {"weak_middle": bool(weak), "strong_modality": strong,
                                    "context": bool(has_context), "short": e - s < 4}))
        changes += [(s, "action"), (e, "action")]

    for s, length in distractor_spans(rng, gp, occupied):
        k = int(rng.integers(0, world.distractor[0].shape[0]))
        amp = p.action_amplitude * rng.uniform(0.6, 1.1)
        for m in range(m_count):
            blend[m][s:s + length] = p.action_blend
            event[m][s:s + length] = amp * world.distractor[m][k]
        changes += [(s, "distractor"), (s + length, "distractor")]

    parts = []
    rho = p.jitter_rho
    for m, d in enumerate(dims):
        x = (1 - blend[m])[:, None] * content[m] + blend[m][:, None] * event[m]
        sigma = p.jitter_rgb if m == 0 else p.jitter_flow
        z = ar1(rng, t, d, rho)
        x = x * np.exp(sigma * z - 0.5 * sigma * sigma) * world.scale[m][None, :]
        x = np.maximum(0.0, x - p.floor * x.mean())
        target = p.rgb_mean if m == 0 else p.flow_mean
        parts.append(x * (target / max(float(x.mean()), 1e-12)) if x.mean() > 0 else x)
    features = np.concatenate(parts, axis=1).astype(np.float32)
    changes = sorted({(i, k) for i, k in changes if 0 < i < t})
    return features, instances, changes
