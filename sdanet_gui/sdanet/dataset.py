"""Training batches the way the CO2-Net / DELU / DDG-Net family draws them.

Why it exists: the co-activity loss needs same-class video pairs at the front of every batch,
and long untrimmed videos must be cut to a fixed budget of snippets without always dropping the
same ones. Both are sampling decisions; keeping them here (numpy, seeded) makes a training run
reproducible and lets distributed ranks draw disjoint shards of one global batch.

A batch (`make_batch`) is a dict of tensors:
  features        float32 [B, T, D]   T = min(max_seqlen, longest video in the batch)
  mask            bool    [B, T]      True on real snippets, False on padding
  labels          float32 [B, C]      video-level multi-hot in the feature set's class order
  snippet_targets long    [B, T]      only when targets were given: -1 unknown, 0 background,
                                      c+1 class c (resampled with the same indices as features)
  label_mask      bool    [B, C]      only when a video of the batch does not know some classes:
                                      False where a video's label is unknown (a class created
                                      after the video was reviewed, `UNLABELLED_KEY`); the
                                      video-level losses leave those entries out, never negative
Videos of the batch: the first 2 * same_class_pairs are pairs that share a class (as the family
does), the rest are drawn uniformly.

Resampling (the family's "random perturb", `train.resample` "stretch"): every video becomes
exactly max_seqlen snippets: position i of the clip takes a random index between
floor(i L / N) and floor((i+1) L / N) (both included; the last bin runs to the end), so a longer
video is thinned and a shorter one stretched (indices repeat) -- batches have no padding. With
"pad", a longer video gets one random index per half-open bin and a shorter one is kept whole
and padded (the mask marks the padding). This module never touches the model or the device.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Sequence

import numpy as np

from ..data.structures import FeatureSet, FeatureVideo
from ..errors import UserError

# VideoAnnotation.meta key: class names whose video-level label is unknown for that video
UNLABELLED_KEY = "unlabelled_classes"


@dataclass
class TrainingVideos:
    """The training videos held in memory: features [T_i, D], labels [N, C], optional targets."""

    names: list[str]
    features: list[np.ndarray]
    labels: np.ndarray
    snippet_targets: list[np.ndarray | None] = field(default_factory=list)
    label_known: np.ndarray | None = None   # [N, C] bool; None: every label is known

    def __len__(self) -> int:
        return len(self.names)

    @property
    def total_snippets(self) -> int:
        return int(sum(f.shape[0] for f in self.features))

    @classmethod
    def load(cls, feature_set: FeatureSet, videos: Sequence[FeatureVideo],
             snippet_targets: dict[str, np.ndarray] | None = None) -> "TrainingVideos":
        """Read the features of `videos` once and check their shapes against the spec."""
        dim = feature_set.spec.feature_dim
        feats, targets = [], []
        for v in videos:
            arr = np.asarray(v.features(), dtype=np.float32)
            if arr.ndim != 2 or arr.shape[1] != dim or arr.shape[0] == 0:
                raise UserError(f"features of video '{v.name}' have shape {arr.shape}, expected "
                                f"[T>0, {dim}] from the feature spec", path=feature_set.source or None)
            if not np.isfinite(arr).all():
                raise UserError(f"features of video '{v.name}' contain NaN or infinite values",
                                path=feature_set.source or None)
            feats.append(arr)
            tgt = None
            if snippet_targets is not None and v.name in snippet_targets:
                tgt = np.asarray(snippet_targets[v.name], dtype=np.int64)
                if tgt.shape != (arr.shape[0],):
                    raise UserError(f"snippet targets of video '{v.name}' have shape {tgt.shape}, "
                                    f"its features have {arr.shape[0]} snippets")
            targets.append(tgt)
        return cls([v.name for v in videos], feats, feature_set.label_matrix(videos), targets,
                   label_known(feature_set.classes, videos))


def label_known(classes: Sequence[str], videos: Sequence[FeatureVideo]) -> np.ndarray | None:
    """[N, C] bool: False where video n's label of class c is unknown (its annotation's
    meta[UNLABELLED_KEY]); None when every label is known. A class a video has a segment of is
    always known."""
    index = {c: i for i, c in enumerate(classes)}
    known = np.ones((len(videos), len(classes)), dtype=bool)
    for row, v in enumerate(videos):
        present = set(v.annotation.labels)
        for name in v.annotation.meta.get(UNLABELLED_KEY, ()) if v.annotation.meta else ():
            if name in index and name not in present:
                known[row, index[name]] = False
    return None if known.all() else known


def resample_indices(length: int, max_seqlen: int, rng: np.random.Generator,
                     stretch: bool = False) -> np.ndarray:
    """Indices into a video of `length` snippets, sorted, covering the whole video.

    stretch (the family's `random_perturb`): exactly `max_seqlen` indices, one random index in
    [floor(i L / N), floor((i + 1) L / N)] for position i < N - 1 and in [floor((N-1) L / N), L)
    for the last, for shorter videos too. Otherwise: longer than `max_seqlen`, one random index
    per half-open uniform bin; not longer, all indices in order.
    """
    if length == max_seqlen or (length < max_seqlen and not stretch):
        return np.arange(length)
    if stretch:
        lo = np.floor(np.arange(max_seqlen) * (length / max_seqlen)).astype(np.int64)
        hi = np.append(lo[1:] + 1, length)                       # exclusive upper bound
        hi[:-1] = np.where(lo[1:] != lo[:-1], hi[:-1], lo[:-1] + 1)
        return lo + (rng.random(max_seqlen) * (hi - lo)).astype(np.int64)
    edges = np.arange(max_seqlen + 1) * (length / max_seqlen)
    lo = np.floor(edges[:-1]).astype(np.int64)
    hi = np.maximum(np.floor(edges[1:]).astype(np.int64), lo + 1)  # exclusive upper bound
    hi = np.minimum(hi, length)
    return lo + (rng.random(max_seqlen) * (hi - lo)).astype(np.int64)


class FamilySampler:
    """Draws the video indices of each batch: same-class pairs first, then uniform picks.

    Deterministic given the generator. `global_batch(world_size)` draws one per-rank batch for
    every rank from the same stream, so all ranks agree on the global batch and each takes its
    own disjoint shard (`shard`).
    """

    def __init__(self, labels: np.ndarray, batch_size: int, same_class_pairs: int,
                 rng: np.random.Generator):
        if batch_size < 1:
            raise UserError(f"batch size must be at least 1, got {batch_size}")
        self.labels = np.asarray(labels)
        self.batch_size = int(batch_size)
        self.rng = rng
        n = len(self.labels)
        if n == 0:
            raise UserError("there are no training videos to sample from")
        # Classes with at least two videos can form a same-class pair.
        self.class_members = [np.flatnonzero(self.labels[:, c] > 0) for c in range(self.labels.shape[1])]
        self.pair_classes = [c for c, m in enumerate(self.class_members) if len(m) >= 2]
        pairs = max(0, int(same_class_pairs))
        self.pairs = min(pairs, self.batch_size // 2) if self.pair_classes else 0

    def batch(self) -> np.ndarray:
        """Video indices [batch_size]: the first 2 * pairs are same-class pairs."""
        idx: list[int] = []
        for _ in range(self.pairs):
            c = self.pair_classes[int(self.rng.integers(len(self.pair_classes)))]
            members = self.class_members[c]
            idx.extend(int(i) for i in self.rng.choice(members, size=2, replace=False))
        rest = self.batch_size - len(idx)
        idx.extend(int(i) for i in self.rng.integers(0, len(self.labels), size=rest))
        return np.asarray(idx, dtype=np.int64)

    def global_batch(self, world_size: int = 1) -> list[np.ndarray]:
        return [self.batch() for _ in range(world_size)]


def make_batch(videos: TrainingVideos, indices: Sequence[int], max_seqlen: int,
               rng: np.random.Generator, stretch: bool = False) -> dict:
    """Tensors of one batch (see the module docstring for keys and shapes)."""
    import torch

    picks = [resample_indices(videos.features[i].shape[0], max_seqlen, rng, stretch) for i in indices]
    t = max(len(p) for p in picks)
    d = videos.features[indices[0]].shape[1]
    feats = np.zeros((len(indices), t, d), dtype=np.float32)
    mask = np.zeros((len(indices), t), dtype=bool)
    with_targets = any(videos.snippet_targets[i] is not None for i in indices) \
        if videos.snippet_targets else False
    targets = np.full((len(indices), t), -1, dtype=np.int64) if with_targets else None
    for row, (i, p) in enumerate(zip(indices, picks)):
        feats[row, : len(p)] = videos.features[i][p]
        mask[row, : len(p)] = True
        if targets is not None and videos.snippet_targets[i] is not None:
            targets[row, : len(p)] = videos.snippet_targets[i][p]
    batch = {
        "features": torch.from_numpy(feats),
        "mask": torch.from_numpy(mask),
        "labels": torch.from_numpy(videos.labels[np.asarray(indices)].astype(np.float32)),
    }
    if targets is not None:
        batch["snippet_targets"] = torch.from_numpy(targets)
    if videos.label_known is not None:
        known = videos.label_known[np.asarray(indices)]
        if not known.all():
            batch["label_mask"] = torch.from_numpy(known)
    return batch


def split_validation(feature_set: FeatureSet, videos: Sequence[FeatureVideo], fraction: float,
                     seed: int) -> tuple[list[FeatureVideo], list[FeatureVideo]]:
    """Carve a validation split out of the TRAINING videos (never the test set).

    Stratified greedily by each video's rarest label so every class with >= 2 videos keeps at
    least one in training; deterministic given `seed`. Returns (train, val); val is empty when
    `fraction` is 0 or there are fewer than 5 training videos.
    """
    videos = list(videos)
    if fraction <= 0 or len(videos) < 5:
        return videos, []
    if fraction >= 1:
        raise UserError(f"validation fraction must be below 1, got {fraction}")
    rng = np.random.default_rng(seed + 7919)
    labels = feature_set.label_matrix(videos)
    counts = labels.sum(axis=0)
    order = rng.permutation(len(videos))
    n_val = max(1, int(round(fraction * len(videos))))
    val_idx: list[int] = []
    taken = np.zeros_like(counts)
    # Group by rarest label so each class contributes about `fraction` of its videos.
    key = [int(np.argmin(np.where(labels[i] > 0, counts, np.inf))) if labels[i].any() else -1
           for i in range(len(videos))]
    for cls in sorted(set(key), key=lambda c: (c == -1, c)):
        members = [i for i in order if key[i] == cls]
        want = int(round(fraction * len(members)))
        for i in members[:want]:
            if len(val_idx) >= n_val:
                break
            lab = labels[i] > 0
            if lab.any() and np.any(counts[lab] - taken[lab] <= 1):
                continue  # would leave a class with no training video
            val_idx.append(i)
            taken += labels[i]
    for i in order:  # top up when rounding left the split short
        if len(val_idx) >= n_val:
            break
        lab = labels[i] > 0
        if i not in val_idx and not (lab.any() and np.any(counts[lab] - taken[lab] <= 1)):
            val_idx.append(i)
            taken += labels[i]
    chosen = set(val_idx)
    return [v for i, v in enumerate(videos) if i not in chosen], \
        [v for i, v in enumerate(videos) if i in chosen]
