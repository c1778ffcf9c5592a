"""Validation and test mAP every N steps of one training run: does training rise and stay?

    .venv/bin/python benchmarks/training_curve.py --data DIR [--preset thumos14] [--iterations 2000]
        [--eval-every 100] [--seed 0] [--without all] [--set KEY=VALUE] [--json OUT]
    .venv/bin/python benchmarks/training_curve.py --i3d-like [--dim 256] ...   (generated in memory)

    ... --code DIR   (measure the checkout in DIR, e.g. a `git worktree` of main, on the same data)

Runs the project's trainer (`sdanet.trainer.train`, model selection on its validation split of
the training videos, as `sdanet train` does) and, at each of its validation steps, also scores
the model on the test videos and records what the attention does there (mean attention, share
of snippets above 0.5, ROC AUC of action vs background), plus the training loss terms of that
step. The records are printed as a table (and written with --json). The trainer is reached
only through `train()` and `evaluate_model`, so the same script measures an older checkout
(--code) on the same data: --data must then be a folder written by `sdanet synth --mode i3d`
(or any feature set), since older code cannot generate this mode.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

from probes import foreground, roc_auc


def attention_stats(model, fs, videos) -> dict:
    """Mean attention, share above 0.5, action-vs-background ROC AUC of the attention and of
    the labelled class's CAS logit, and the spread of the CAS logits over `videos`."""
    from sdanet_gui.sdanet.predict import score_features

    atn, fg, cas, spread = [], [], [], []
    for v in videos:
        sc = score_features(model, v.features())
        labels = [fs.classes.index(c) for c in v.annotation.labels]
        cas.append(sc.cas[:, labels].max(axis=1))
        spread.append(float(np.percentile(sc.cas, 99) - np.percentile(sc.cas, 1)))
        atn.append(sc.attention)
        fg.append(foreground(fs.spec, v))
    a, f = np.concatenate(atn), np.concatenate(fg)
    return {"attention_mean": float(a.mean()), "attention_above_half": float((a > 0.5).mean()),
            "attention_auc": roc_auc(a, f), "cas_auc": roc_auc(np.concatenate(cas), f),
            "cas_spread": float(np.mean(spread))}


def run_curve(cfg, fs, *, iterations: int, eval_every: int, seed: int, log=print) -> dict:
    """Train once; returns {"records": [...per validation step...], "metrics": trainer metrics}."""
    from sdanet_gui.sdanet import trainer

    test = [v for v in fs.by_subset(fs.test_subset) if v.annotation.segments]
    records: list[dict] = []
    last_losses: dict = {}
    original = trainer.evaluate_model
    started = time.perf_counter()

    def evaluate_and_watch(model, feature_set, videos, params, tious, plan=None, cancel=None, **kw):
        val = original(model, feature_set, videos, params, tious, plan, cancel=cancel, **kw)
        if len(records) < iterations // eval_every:       # not the final test evaluation
            rec = {"step": (len(records) + 1) * eval_every, "val": val["average_mAP"],
                   "test": original(model, feature_set, test, params, tious, plan)["average_mAP"],
                   **attention_stats(model, feature_set, test), "losses": dict(last_losses),
                   "seconds": time.perf_counter() - started}
            records.append(rec)
            log(f"step {rec['step']:5d}  val {100 * rec['val']:5.1f}  test {100 * rec['test']:5.1f}  "
                f"attention mean {rec['attention_mean']:.3f} >0.5 {rec['attention_above_half']:.3f} "
                f"AUC {rec['attention_auc']:.3f}  CAS AUC {rec['cas_auc']:.3f} spread {rec['cas_spread']:.1f}  loss " +
                " ".join(f"{k} {v:.3f}" for k, v in rec["losses"].items()) + f"  ({rec['seconds']:.0f} s)")
        return val

    def progress(info):
        if info.get("event") == "step":
            last_losses.clear()
            last_losses.update(info.get("losses", {}))

    trainer.evaluate_model = evaluate_and_watch
    try:
        res = trainer.train(cfg, fs, iterations=iterations, seed=seed, eval_every=eval_every,
                            progress=progress, device="cpu")
    finally:
        trainer.evaluate_model = original
    return {"records": records, "metrics": res.metrics}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    src = ap.add_mutually_exclusive_group(required=True)
    src.add_argument("--data", type=Path, help="feature set folder/file")
    src.add_argument("--i3d-like", action="store_true", help="generate the I3D-like synthetic set in memory")
    ap.add_argument("--dim", type=int, default=256, help="--i3d-like: dims per modality (default 256)")
    ap.add_argument("--classes", type=int, default=8)
    ap.add_argument("--train-videos", type=int, default=240)
    ap.add_argument("--test-videos", type=int, default=80)
    ap.add_argument("--preset", default="thumos14")
    ap.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE")
    ap.add_argument("--without", help="modules to switch off (comma list or all)")
    ap.add_argument("--iterations", type=int, default=2000)
    ap.add_argument("--eval-every", type=int, default=100)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--json", type=Path, metavar="OUT")
    ap.add_argument("--code", type=Path, metavar="DIR", help="import sdanet_gui from this checkout")
    args = ap.parse_args(argv)
    if args.code:
        sys.path.insert(0, str(Path(__file__).resolve().parent))
        from checkout import use_checkout

        print(f"code: {use_checkout(args.code)}", flush=True)

    import torch

    from sdanet_gui.sdanet.config import apply_overrides, apply_without, load_preset

    torch.set_num_threads(args.threads)
    if args.i3d_like:
        from sdanet_gui.data.synthetic import make_synthetic

        fs = make_synthetic(seed=0, mode="i3d", num_classes=args.classes, dim=args.dim,
                            train_videos=args.train_videos, test_videos=args.test_videos,
                            min_snippets=150, max_snippets=600)
    else:
        from sdanet_gui.data.feature_sets import load_feature_set

        fs = load_feature_set(args.data)
    cfg = apply_without(apply_overrides(load_preset(args.preset), args.overrides), args.without)
    print(f"data {fs.source}: {len(fs.by_subset(fs.train_subset))} train / "
          f"{len(fs.by_subset(fs.test_subset))} test videos; preset {args.preset} "
          f"{' '.join(args.overrides)}; modules on: {', '.join(cfg.enabled_modules()) or 'none'}; "
          f"seed {args.seed}", flush=True)
    out = run_curve(cfg, fs, iterations=args.iterations, eval_every=args.eval_every, seed=args.seed,
                    log=lambda s: print(s, flush=True))
    m = out["metrics"]
    print(f"selected step {m['best_step']}; test avg mAP of the selected weights "
          f"{100 * m['test']['average_mAP']:.1f}" if "test" in m else "")
    if args.json:
        args.json.write_text(json.dumps({"args": {k: str(v) for k, v in vars(args).items()}, **out},
                                        indent=1, default=str))
    return 0


if __name__ == "__main__":
    sys.exit(main())
