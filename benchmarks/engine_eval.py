"""Evaluation and localization speed: vectorized detection mAP vs a plain reference loop, and
localization of one long video.

1. Ground truth: the real THUMOS14 test annotations (tests/assets/annotations/thumos14_cmcs/
   test: 212 videos with segments, 20 classes, 3,358 segments, Ambiguous intervals excluded).
   Predictions: ~100k generated around them (seeded): jittered copies of every ground-truth
   segment with scores that fall with the jitter, exact duplicates, wrong-class copies, random
   false positives, scores rounded to 1e-3 so that exact ties occur, and a few videos that are
   not in the ground truth at all; written to a result file and read back as `sdanet eval`
   reads one.
2. The same sets are scored by `sdanet_gui.sdanet.evaluation.detection_map` and by the plain
   per-class, per-prediction loop of tests/sdanet/official_reference.py (the official ActivityNet
   algorithm step by step, its numpy sorts included), side by side in one run. Both must agree;
   the max abs difference of every AP is printed with both times and the speed-up (goal: 20x).
3. `localize_video` on a 5,000-snippet x 20-class video (CAS and attention with planted
   actions and noise): median milliseconds over repeated runs. Budget: 50 ms.

    python benchmarks/engine_eval.py [--quick] [--json]
`main(quick=False) -> dict` is called by benchmarks/engine.py.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

SHARED_DATA = Path(os.environ.get("SDANET_SHARED_DATA") or REPO / "tests" / "assets")
THUMOS_TEST_GT = SHARED_DATA / "annotations" / "thumos14_cmcs" / "test"


# --- the reference: the plain loop of the tests -------------------------------------------------

def _official_reference():
    """tests/sdanet/official_reference.py: the step-by-step official algorithm (one prediction
    at a time), the loop the differential tests hold the evaluator to."""
    import importlib.util

    path = REPO / "tests" / "sdanet" / "official_reference.py"
    spec = importlib.util.spec_from_file_location("official_reference", path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def reference_detection_map(gt, preds, tious):
    """-> (classes of the ground truth, ap [K, C]) by the plain loop."""
    return _official_reference().reference_detection_map(gt, preds, tious)


# --- data ----------------------------------------------------------------------------------------

def thumos_test_gt():
    from sdanet_gui.data.annotations import load_annotations

    gt = load_annotations(THUMOS_TEST_GT)
    gt.videos = {k: v for k, v in gt.videos.items() if v.segments}
    return gt


def generate_predictions(gt, n_target=100_000, seed=0, extra_videos=5):
    """~n_target scored segments around the ground truth (see the module docstring)."""
    from sdanet_gui.data.structures import Segment

    rng = np.random.default_rng(seed)
    classes = sorted({s.label for v in gt.videos.values() for s in v.segments})
    n_gt = sum(len(v.segments) for v in gt.videos.values())
    per_gt = max(1, int(n_target * 0.6 / n_gt))
    fp_per_video = max(1, int(n_target * 0.4 / max(1, len(gt.videos))))
    preds = {}
    for name, video in gt.videos.items():
        dur = float(video.duration or max(s.end for s in video.segments) + 10.0)
        out = []
        for seg in video.segments:
            length = max(0.2, seg.end - seg.start)
            jit = rng.normal(0, 0.35, size=(per_gt, 2)) * length
            s = np.clip(seg.start + jit[:, 0], 0, dur)
            e = np.clip(seg.end + jit[:, 1], 0, dur)
            s, e = np.minimum(s, e), np.maximum(s, e) + 0.04
            score = np.round(np.clip(0.9 - np.abs(jit).sum(1) / length * 0.5
                                     + rng.normal(0, 0.1, per_gt), 0.001, 1), 3)
            labels = np.where(rng.random(per_gt) < 0.1, rng.choice(classes, per_gt), seg.label)
            for a, b, sc, lab in zip(s, e, score, labels):
                out.append(Segment(str(lab), float(a), float(b), float(sc)))
            if rng.random() < 0.3:                       # an exact duplicate
                out.append(Segment(out[-1].label, out[-1].start, out[-1].end, out[-1].score))
        starts = rng.uniform(0, dur, fp_per_video)
        lens = rng.exponential(5.0, fp_per_video) + 0.3
        video_labels = sorted({s.label for s in video.segments})
        for a, ln in zip(starts, lens):
            lab = video_labels[rng.integers(len(video_labels))] if rng.random() < 0.7 \
                else classes[rng.integers(len(classes))]
            out.append(Segment(lab, float(a), float(min(dur, a + ln)),
                               float(np.round(rng.uniform(0.001, 0.7), 3))))
        order = rng.permutation(len(out))
        preds[name] = [out[i] for i in order]
    for i in range(extra_videos):                        # videos the ground truth does not have
        preds[f"video_not_in_gt_{i}"] = [Segment(classes[j % len(classes)], float(j), float(j + 3),
                                                 0.5) for j in range(20)]
    return preds


def as_read_by_sdanet_eval(preds):
    """The predictions written to an ActivityNet result file and read back the way `sdanet eval`
    reads them (objects in file order, as in real use; generated ones lie scattered in memory,
    which alone doubles the time to walk them)."""
    import tempfile

    from sdanet_gui.data.annotations import load_predictions, save_predictions

    with tempfile.TemporaryDirectory() as tmp:
        path = save_predictions(preds, Path(tmp) / "results.json")
        return load_predictions(path, for_evaluation=True)


def synthetic_scores(t=5000, c=20, seed=0, n_actions=60):
    """CAS [t, c+1] and attention [t] with planted actions of 3 classes, smooth noise."""
    rng = np.random.default_rng(seed)
    cas = rng.normal(-1.0, 0.5, size=(t, c + 1))
    cas[:, -1] += 0.5
    att = 0.15 + 0.1 * np.convolve(rng.normal(size=t + 8), np.ones(9) / 3, mode="valid")
    for _ in range(n_actions):
        s = int(rng.integers(0, t - 60))
        ln = int(rng.integers(2, 50))
        k = int(rng.integers(0, 3))
        att[s:s + ln] = rng.uniform(0.5, 0.95) + rng.normal(0, 0.05, ln)
        cas[s:s + ln, k] += rng.uniform(3, 6)
    return cas, np.clip(att, 0, 1)


# --- main ----------------------------------------------------------------------------------------

def main(quick: bool = False) -> dict:
    from sdanet_gui.data.units import FeatureSpec
    from sdanet_gui.sdanet.evaluation import THUMOS_TIOUS, detection_map
    from sdanet_gui.sdanet.localization import PostProcessing, localize_video

    gt = thumos_test_gt()
    preds = as_read_by_sdanet_eval(generate_predictions(gt, n_target=15_000 if quick else 100_000))
    n_pred = sum(len(v) for v in preds.values())
    n_gt = sum(len(v.segments) for v in gt.videos.values())
    tious = list(THUMOS_TIOUS)

    def timed(fn):
        w0, c0 = time.perf_counter(), time.process_time()
        r = fn()
        return r, time.perf_counter() - w0, time.process_time() - c0

    # side by side in one run: the vectorized evaluator 7 times, the plain loop twice (medians)
    fast = [timed(lambda: detection_map(gt, preds, tious)) for _ in range(3 if quick else 7)]
    res = fast[0][0]
    ref = [timed(lambda: reference_detection_map(gt, preds, tious)) for _ in range(1 if quick else 2)]
    ref_classes, ref_ap = ref[0][0]
    ref_wall = statistics.median(r[1] for r in ref)
    ref_cpu = statistics.median(r[2] for r in ref)
    col = {c: i for i, c in enumerate(res.classes)}
    fast_ap = res.ap[:, [col[c] for c in ref_classes]]
    max_diff = float(np.max(np.abs(fast_ap - ref_ap)))
    fast_wall = statistics.median(f[1] for f in fast)
    fast_cpu = statistics.median(f[2] for f in fast)

    spec = FeatureSpec()
    names = [f"class{i}" for i in range(20)]
    cas, att = synthetic_scores()
    params = PostProcessing()
    segs = localize_video(cas, att, spec, names, params)
    loc = [timed(lambda: localize_video(cas, att, spec, names, params)) for _ in range(5 if quick else 21)]

    out = {
        "eval_videos": len(gt.videos), "eval_classes": len(res.classes), "eval_gt": n_gt,
        "eval_predictions": n_pred,
        "eval_fast_s": fast_wall, "eval_reference_s": ref_wall,
        "eval_fast_cpu_s": fast_cpu, "eval_reference_cpu_s": ref_cpu,
        "eval_speedup": ref_wall / fast_wall, "eval_speedup_cpu": ref_cpu / fast_cpu,
        "eval_max_abs_diff": max_diff, "eval_average_mAP": float(res.average_map),
        "localize_snippets": int(cas.shape[0]), "localize_classes": int(cas.shape[1] - 1),
        "localize_kept_classes": len({s.label for s in segs}), "localize_segments": len(segs),
        "localize_median_ms": 1000 * statistics.median(x[1] for x in loc),
        "localize_median_cpu_ms": 1000 * statistics.median(x[2] for x in loc),
        "load_average_1min": os.getloadavg()[0] if hasattr(os, "getloadavg") else None,
    }
    return out


def _cli() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="15k predictions, fewer runs")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    r = main(quick=args.quick)
    if args.json:
        print(json.dumps(r, indent=2))
        return 0
    print(f"detection mAP on {r['eval_videos']} videos, {r['eval_classes']} classes, "
          f"{r['eval_gt']} GT, {r['eval_predictions']} predictions (tIoU 0.1:0.7)")
    print(f"  vectorized {r['eval_fast_s'] * 1000:.0f} ms wall / {r['eval_fast_cpu_s'] * 1000:.0f} ms cpu "
          f"(median of 7); plain reference loop {r['eval_reference_s']:.2f} s wall / "
          f"{r['eval_reference_cpu_s']:.2f} s cpu (median of 2)")
    print(f"  speed-up {r['eval_speedup']:.1f}x wall, {r['eval_speedup_cpu']:.1f}x cpu; "
          f"max |AP diff| {r['eval_max_abs_diff']:.2e}; average mAP {r['eval_average_mAP']:.4f} "
          f"(goal: 20x)")
    print(f"localize_video: {r['localize_snippets']} snippets x {r['localize_classes']} classes "
          f"({r['localize_kept_classes']} kept) -> {r['localize_segments']} segments, median "
          f"{r['localize_median_ms']:.1f} ms wall / {r['localize_median_cpu_ms']:.1f} ms cpu (budget 50 ms)")
    print(f"(1-min load average {r['load_average_1min']:.1f}; wall times inflate on a busy machine)")
    return 0


if __name__ == "__main__":
    sys.exit(_cli())
