"""Where a synthetic video's instances go, and the generator's knobs: shared by both modes.

Why a module of its own: the gaussian mode (`synthetic.py`) and the I3D-like mode
(`synthetic_i3d.py`) place instances the same way (so a seed gives both modes the same
layout of short and long instances), and neither mode should import the other's internals.
"""

from __future__ import annotations

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
