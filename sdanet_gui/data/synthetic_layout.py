"""Where a synthetic video's instances go, and the generator's knobs: shared by both modes.

Why a module of its own: the gaussian mode (`synthetic.py`) and the I3D-like mode
(`synthetic_i3d.py`) place instances the same way (so a seed gives both modes the same
layout of short and long instances), and neither mode should import the other's internals.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class SyntheticParams:
    """The knobs of the generative model (defaults = the model in `synthetic.py`'s docstring)."""

    amplitude: float = 4.0
    noise_rho: float = 0.5
    short_video_prob: float = 0.3
    second_class_prob: float = 0.25
    weak_middle_prob: float = 0.5
    weak_middle_level: float = 0.25
    split_prob: float = 0.5
    weak_modality_level: float = 0.2
    context_prob: float = 0.5
    context_level: float = 0.8
    max_distractors: int = 3
    domain_angle_deg: float = 70.0
    domain_background_shift: float = 1.5
    gap: int = 3


def place(rng, occupied: np.ndarray, length: int, gap: int) -> int | None:
    """A random start for an instance of `length` keeping `gap` free snippets around it."""
    t = len(occupied)
    if length > t:
        return None
    for _ in range(60):
        s = int(rng.integers(0, t - length + 1))
        if not occupied[max(0, s - gap):min(t, s + length + gap)].any():
            return s
    free = [s for s in range(t - length + 1)
            if not occupied[max(0, s - gap):min(t, s + length + gap)].any()]
    return int(rng.choice(free)) if free else None


def instance_lengths(rng, short_heavy: bool, primary: bool, t: int) -> list[int]:
    if short_heavy:
        n = int(rng.integers(3, 9)) if primary else int(rng.integers(2, 5))
        return [int(rng.integers(2, 5)) for _ in range(n)]
    n = int(rng.integers(1, 4))
    out = []
    for _ in range(n):
        u = rng.random()
        if u < 0.35:
            out.append(int(rng.integers(2, 5)))
        elif u < 0.75:
            out.append(int(rng.integers(5, 13)))
        else:
            out.append(int(rng.integers(13, max(14, min(40, t // 4)) + 1)))
    return out


def video_layout(rng, p: SyntheticParams, primary: int, num_classes: int, t_range: tuple[int, int]):
    """A video's length, classes (primary first, a second one with p.second_class_prob) and
    whether it is short-heavy; the first draws of every video, in both modes."""
    t = int(rng.integers(t_range[0], t_range[1] + 1))
    classes = [primary]
    if num_classes > 1 and rng.random() < p.second_class_prob:
        classes.append(int((primary + rng.integers(1, num_classes)) % num_classes))
    return t, classes, rng.random() < p.short_video_prob


def instance_profile(rng, p: SyntheticParams, length: int, names: list[str]):
    """How strong one instance is along its length and per modality: (profile [length], weak
    middle?, levels [modalities], the strong modality's name or "all"). A weak middle drops to
    `p.weak_middle_level` (lengths >= 5, probability `p.weak_middle_prob`); a split instance
    (probability `p.split_prob`) is strong in one modality only."""
    profile = np.ones(length)
    weak = length >= 5 and rng.random() < p.weak_middle_prob
    if weak:
        lo = int(round(length * 0.3))
        profile[lo:length - lo] = p.weak_middle_level
    levels = np.ones(len(names))
    strong = "all"
    if len(names) >= 2 and rng.random() < p.split_prob:
        k = int(rng.integers(0, len(names)))
        levels[:] = p.weak_modality_level
        levels[k] = 1.0
        strong = names[k]
    return profile, weak, levels, strong


def placed_instances(rng, p: SyntheticParams, classes: list[int], short_heavy: bool, occupied: np.ndarray):
    """Yield (class, start, end) for each instance placed, marking `occupied`; the caller draws
    the instance's own values between yields, so both modes keep one draw order. ValueError
    when the primary class (the first) gets no instance at all."""
    t = len(occupied)
    for ci, c in enumerate(classes):
        placed = 0
        for length in instance_lengths(rng, short_heavy, ci == 0, t):
            s = place(rng, occupied, length, p.gap)
            if s is None:
                continue
            occupied[s:s + length] = True
            placed += 1
            yield c, s, s + length
        if placed == 0 and ci == 0:
            raise ValueError(f"video of {t} snippets has no room for an action instance; "
                             f"raise min_snippets")


def context_spans(rng, start: int, end: int, occupied: np.ndarray) -> list[np.ndarray]:
    """The free snippets just before and/or after an instance (2-3 each side, each side with
    probability 0.7) where the scene of its class shows without the action."""
    spans = []
    for side in ("before", "after"):
        if rng.random() < 0.7:
            n = int(rng.integers(2, 4))
            lo, hi = (max(0, start - n), start) if side == "before" else (end, min(len(occupied), end + n))
            span = np.arange(lo, hi)
            spans.append(span[~occupied[span]])
    return spans


def distractor_spans(rng, p: SyntheticParams, occupied: np.ndarray):
    """Yield (start, length) of 0..p.max_distractors background events of 3-10 snippets."""
    for _ in range(int(rng.integers(0, p.max_distractors + 1))):
        length = int(rng.integers(3, 11))
        s = place(rng, occupied, length, 1)
        if s is not None:
            yield s, length


def ar1(rng, t: int, d: int, rho: float) -> np.ndarray:
    """[t, d] unit-variance AR(1) noise over time with coefficient rho."""
    eps = rng.standard_normal((t, d))
    z = np.empty_like(eps)
    z[0] = eps[0]
    scale = math.sqrt(1 - rho * rho)
    for i in range(1, t):
        z[i] = rho * z[i - 1] + scale * eps[i]
    return z

