"""The fused foreground attention must learn to separate action snippets from background.

Video-level labels only: the attention is taught by the attention-suppressed top-k MIL, and the
guide loss ties it to the raw CAS's background probability. A bug that lets the suppressed MIL be
satisfied without moving the attention (it was: a gradient through the per-class minimum over
time of `network.suppress`, which let the loss shift whole CAS channels instead) leaves the
classifier learning while the attention stays near chance. This test trains the baseline (all
modules off, the CO2-Net-like model) briefly on the CPU with the project's trainer and scores
the attention on HELD-OUT synthetic videos by ROC AUC (action vs background snippets).

Criterion: the MEAN AUC over training seeds 0, 1, 2 (100 steps each, `synthetic` preset, 1 thread,
data seed 0; about 25 s CPU in all) must exceed 0.65. Measured with the per-layer-name
initialisation of `SDANet.reset_parameters` (2026-11-26): with the fix 0.802 / 0.766 / 0.611
(mean 0.727); with the old gradient through the minimum 0.630 / 0.650 / 0.537 (mean 0.606), so the
test fails on the old behaviour by 0.044 and passes on the fixed one by 0.077. (With the earlier
single-generator initialisation: 0.703 / 0.673 / 0.750 vs 0.542 / 0.543 / 0.686.) A single seed
is not enough: seed variance is large (fixed seed 2 gives 0.611). Checked by running this
module's `train_and_score` with the old `suppress` patched into `losses`.
For reference, a supervised linear probe on the raw features reaches 0.87 AUC on the same test
videos, and the raw CAS's labelled-class logit about 0.85.
"""

from __future__ import annotations

import numpy as np
import torch

from sdanet_gui.data.synthetic import make_synthetic
from sdanet_gui.sdanet.config import MODULE_NAMES, apply_without, load_preset
from sdanet_gui.sdanet.trainer import train

torch.set_num_threads(1)  # 2 shared cores: one thread avoids OpenMP spin contention

THRESHOLD = 0.65
ITERATIONS = 100
SEEDS = (0, 1, 2)


def roc_auc(scores: np.ndarray, positive: np.ndarray) -> float:
    """Area under the ROC curve (ties count one half). scores [N], positive [N] bool."""
    scores = np.asarray(scores, dtype=np.float64)
    positive = np.asarray(positive, dtype=bool)
    order = np.argsort(scores, kind="mergesort")
    ranks = np.empty(len(scores))
    sorted_scores = scores[order]
    i = 0
    while i < len(scores):
        j = i
        while j + 1 < len(scores) and sorted_scores[j + 1] == sorted_scores[i]:
            j += 1
        ranks[order[i:j + 1]] = (i + j) / 2 + 1
        i = j + 1
    n_pos, n_neg = int(positive.sum()), int((~positive).sum())
    return float((ranks[positive].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))


def foreground(video, spec) -> np.ndarray:
    """bool [T]: snippets inside a ground-truth segment of the video."""
    fg = np.zeros(video.num_snippets, dtype=bool)
    for seg in video.annotation.segments:
        lo = int(round(float(spec.seconds_to_snippet(seg.start))))
        hi = int(round(float(spec.seconds_to_snippet(seg.end))))
        fg[lo:hi] = True
    return fg


def attention_auc(model, feature_set) -> float:
    """ROC AUC of the fused attention for action vs background over all test-subset snippets."""
    model.eval()
    scores, labels = [], []
    with torch.no_grad():
        for v in feature_set.by_subset(feature_set.test_subset):
            x = torch.tensor(np.asarray(v.features()), dtype=torch.float32).unsqueeze(0)
            scores.append(model(x).attention[0].numpy())
            labels.append(foreground(v, feature_set.spec))
    return roc_auc(np.concatenate(scores), np.concatenate(labels))


def train_and_score(seed: int = 0, iterations: int = ITERATIONS) -> float:
    fs = make_synthetic(seed=0)
    cfg = apply_without(load_preset("synthetic"), list(MODULE_NAMES))
    res = train(cfg, fs, iterations=iterations, seed=seed, select_on="last", device="cpu",
                final_test=False)
    return attention_auc(res.model, fs)


def test_roc_auc_matches_hand_counts():
    assert roc_auc(np.array([0.1, 0.4, 0.35, 0.8]), np.array([0, 0, 1, 1], bool)) == 0.75
    assert roc_auc(np.array([0.5, 0.5]), np.array([0, 1], bool)) == 0.5


def test_attention_separates_action_from_background_on_held_out_videos():
    aucs = [train_and_score(seed) for seed in SEEDS]
    mean = float(np.mean(aucs))
    assert mean > THRESHOLD, (f"mean attention AUC {mean:.3f} (seeds {SEEDS}: "
                              f"{', '.join(f'{a:.3f}' for a in aucs)}) on held-out synthetic videos "
                              f"<= {THRESHOLD}")
