"""Ablation of SDANet's modules on the synthetic feature set: baseline, each module alone, full.

    .venv/bin/python benchmarks/ablation.py [--only ROWS] [--seeds 0,1,2] [--json OUT] [--set KEY=VALUE]
    .venv/bin/python benchmarks/ablation.py --mode gaussian        (the earlier rounds' data)

Defaults: the I3D-like mode, 2 x 64-d, 160 training / 60 test videos, 8 classes, thumos14
preset, 1000 iterations, seeds 0, 1, 2 (docs/ablation.md's table; about 45 min on 2 cores when
rows run two at a time with --only ... --json and are joined with --merge).

Trains every configuration with the project's trainer (`sdanet_gui.sdanet.trainer.train`) on
`make_synthetic(seed=--data-seed, mode=--mode)` with a preset (`synthetic` for the gaussian
mode, `thumos14` for the I3D-like one, or --preset), and prints a markdown table of
detection mAP on the synthetic test subset at tIoU 0.1:0.1:0.7 and their average (the THUMOS14
protocol). The weights kept are those of the last step (`select_on="last"`): no selection on
the test set, and no validation split that would take videos away from a small training set.
Rows:
  baseline             all five modules off (the CO2-Net-like model)
  + mtff / + sda / ... the baseline with that one module switched on
  full SDANet          all five on (the paper's method)
  preset               the modules the preset switches on (`sdanet train --preset` names them)
With several seeds the table shows mean and standard deviation over the seeds (model
initialisation and batch order; the data set is the same). Layers that two rows share start
from the same weights for the same seed (`SDANet.reset_parameters` seeds each layer by name), so
a row's difference from the baseline is the module's, not a different random start; the
"vs baseline" column is the mean over seeds of (row - baseline) on the same seed, ± its
standard error. `--merge A.json B.json` prints the tables of a run made in parts.

A second table separates where the detections are won or lost (all on the test videos):
  attention AUC     ROC AUC of the fused attention, action vs background snippets
  CAS AUC           the same for the raw CAS logit of each video's labelled class(es)
  mAP | GT attention  average mAP when the attention is replaced by the ground truth's
                    foreground (0.9 inside an instance, 0.1 outside): the CAS's own quality
  train mAP         average mAP on the training videos (overfitting check)
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from probes import foreground, roc_auc  # noqa: E402
from sdanet_gui.sdanet.config import MODULE_NAMES, apply_overrides, load_preset  # noqa: E402

PRESET = None   # the row whose modules are the preset's own
ROWS = [("baseline", []), *[(f"+ {m}", [m]) for m in MODULE_NAMES], ("full SDANet", list(MODULE_NAMES)),
        ("preset", PRESET)]


def configs(overrides: list[str], preset: str = "synthetic"):
    """(row name, config) for every row: the preset (and `overrides`) with exactly the row's
    modules on; the "preset" row keeps the modules the preset (and `overrides`) switch on."""
    base = apply_overrides(load_preset(preset), overrides)
    for name, on in ROWS:
        cfg = base.copy()
        if on is not PRESET:
            for m in MODULE_NAMES:
                setattr(cfg.modules, m, m in on)
        yield name, cfg


def diagnostics(model, fs, cfg) -> dict:
    """Where detections are won or lost: attention AUC, CAS AUC, mAP | GT attention, train mAP."""
    import numpy as np

    from sdanet_gui.sdanet.evaluation import detection_map
    from sdanet_gui.sdanet.localization import PostProcessing, localize_video
    from sdanet_gui.sdanet.predict import score_features
    from sdanet_gui.sdanet.trainer import evaluate_model

    params = PostProcessing.from_config(cfg)
    tious = [float(t) for t in cfg.eval.tiou_thresholds]
    test = [v for v in fs.by_subset(fs.test_subset) if v.annotation.segments]
    labels = fs.label_matrix(test)
    atn, cas, fg, preds = [], [], [], {}
    for i, v in enumerate(test):
        sc = score_features(model, v.features())
        inside = foreground(fs.spec, v)
        atn.append(sc.attention)
        cas.append(sc.cas[:, :-1][:, labels[i] > 0].max(axis=1))
        fg.append(inside)
        preds[v.name] = localize_video(sc.cas, np.where(inside, 0.9, 0.1), fs.spec, list(fs.classes),
                                       params, v.annotation.ambiguous)
    gt = fs.annotations(None)
    gt.videos = {v.name: v.annotation for v in test}
    fg = np.concatenate(fg)
    train = [v for v in fs.by_subset(fs.train_subset) if v.annotation.segments]
    return {"attention_auc": roc_auc(np.concatenate(atn), fg), "cas_auc": roc_auc(np.concatenate(cas), fg),
            "oracle_attention_mAP": float(detection_map(gt, preds, tious, classes=list(fs.classes)).average_map),
            "train_mAP": evaluate_model(model, fs, train, params, tious)["average_mAP"]}


def print_tables(results: list[dict]) -> None:
    """The markdown tables of the doc from `results` (rows of {"row", "modules", "runs"})."""
    tious = list(results[0]["runs"][0]["mAP"]) if results else []
    head = "| configuration | " + " | ".join(f"mAP@{t}" for t in tious) + " | avg 0.1:0.7 | vs baseline |"
    print(head)
    print("|" + "---|" * (len(tious) + 3))
    base = {run["seed"]: run["average_mAP"] for r in results if r["row"] == "baseline" for run in r["runs"]}
    for r in results:
        cells = []
        for t in tious:
            vals = [100 * run["mAP"][t] for run in r["runs"]]
            cells.append(f"{statistics.mean(vals):.1f}")
        avg = [100 * run["average_mAP"] for run in r["runs"]]
        sd = f" ± {statistics.stdev(avg):.1f}" if len(avg) > 1 else ""
        # Paired by seed: the rows share their initialisation and batch order for one seed.
        diff = [100 * (run["average_mAP"] - base[run["seed"]]) for run in r["runs"] if run["seed"] in base]
        paired = ""
        if diff and r["row"] != "baseline":
            paired = f"{statistics.mean(diff):+.1f}"
            if len(diff) > 1:
                paired += f" ± {statistics.stdev(diff) / len(diff) ** 0.5:.1f}"
        print(f"| {r['row']} | " + " | ".join(cells) + f" | **{statistics.mean(avg):.1f}**{sd} | {paired} |")
    print("\n| configuration | test avg mAP | attention AUC | CAS AUC | mAP \\| GT attention | train avg mAP |"
          " params |\n|---|---|---|---|---|---|---|")
    for r in results:
        def mean(key, scale=1.0, digits=1):
            return f"{statistics.mean(scale * run[key] for run in r['runs']):.{digits}f}"
        print(f"| {r['row']} | {mean('average_mAP', 100)} | {mean('attention_auc', digits=3)} | "
              f"{mean('cas_auc', digits=3)} | {mean('oracle_attention_mAP', 100)} | {mean('train_mAP', 100)} | "
              f"{r['runs'][0]['params']:,} |")
    print()
    for r in results:
        print(f"per-seed avg mAP {r['row']} (seeds {', '.join(str(run['seed']) for run in r['runs'])}): "
              + " / ".join(f"{100 * run['average_mAP']:.1f}" for run in r["runs"]))


def merge(paths: list[str]) -> list[dict]:
    """Rows of several `--json` files (e.g. the same command run in parts), in table order."""
    rows: dict[str, dict] = {}
    for path in paths:
        for r in json.loads(Path(path).read_text())["results"]:
            row = rows.setdefault(r["row"], {"row": r["row"], "modules": r["modules"], "runs": []})
            row["runs"].extend(r["runs"])
    order = [name for name, _ in ROWS]
    out = sorted(rows.values(), key=lambda r: order.index(r["row"]) if r["row"] in order else len(order))
    for r in out:
        r["runs"].sort(key=lambda run: run["seed"])
    return out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--iterations", type=int, default=None, help="default 1000 (i3d), 200 (gaussian)")
    ap.add_argument("--seeds", default="0,1,2", help="comma list of training seeds (default 0,1,2)")
    ap.add_argument("--data-seed", type=int, default=0)
    ap.add_argument("--train-videos", type=int, default=None, help="default 160 (i3d), 40 (gaussian)")
    ap.add_argument("--test-videos", type=int, default=None, help="default 60 (i3d), 20 (gaussian)")
    ap.add_argument("--max-snippets", type=int, default=None, help="default 200 (gaussian), 600 (i3d)")
    ap.add_argument("--min-snippets", type=int, default=None, help="default 80 (gaussian), 150 (i3d)")
    ap.add_argument("--mode", choices=("gaussian", "i3d"), default="i3d", help="synthetic mode (default i3d)")
    ap.add_argument("--dim", type=int, default=64, help="dims per modality (default 64)")
    ap.add_argument("--classes", type=int, default=None, help="default 5 (gaussian), 8 (i3d)")
    ap.add_argument("--preset", default=None, help="default synthetic (gaussian), thumos14 (i3d)")
    ap.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE")
    ap.add_argument("--only", help="comma list of row names to run (e.g. 'baseline,full SDANet')")
    ap.add_argument("--threads", type=int, default=1, help="torch CPU threads (default 1)")
    ap.add_argument("--json", metavar="OUT", help="also write the measured figures as JSON")
    ap.add_argument("--merge", nargs="+", metavar="JSON",
                    help="print the tables of earlier --json outputs (parts of one run) and exit")
    args = ap.parse_args(argv)
    if args.merge:
        print_tables(merge(args.merge))
        return 0

    import torch

    from sdanet_gui.data.synthetic import make_synthetic
    from sdanet_gui.sdanet.trainer import train

    torch.set_num_threads(args.threads)
    seeds = [int(s) for s in args.seeds.split(",") if s.strip()]
    only = {s.strip() for s in args.only.split(",")} if args.only else None
    i3d = args.mode == "i3d"
    args.preset = args.preset or ("thumos14" if i3d else "synthetic")
    args.classes = args.classes or (8 if i3d else 5)
    args.iterations = args.iterations or (1000 if i3d else 200)
    args.train_videos = args.train_videos or (160 if i3d else 40)
    args.test_videos = args.test_videos or (60 if i3d else 20)
    args.min_snippets = args.min_snippets or (150 if i3d else 80)
    args.max_snippets = args.max_snippets or (600 if i3d else 200)
    fs = make_synthetic(seed=args.data_seed, train_videos=args.train_videos, test_videos=args.test_videos,
                        min_snippets=args.min_snippets, max_snippets=args.max_snippets, mode=args.mode,
                        num_classes=args.classes, dim=args.dim)
    results = []
    started = time.perf_counter()
    for name, cfg in configs(args.overrides, args.preset):
        if only and name not in only:
            continue
        runs = []
        for seed in seeds:
            t0 = time.perf_counter()
            res = train(cfg, fs, iterations=args.iterations, seed=seed, select_on="last", device="cpu")
            test = res.metrics["test"]
            runs.append({"seed": seed, "average_mAP": test["average_mAP"], "mAP": test["mAP"],
                         "seconds": time.perf_counter() - t0,
                         "params": sum(p.numel() for p in res.model.parameters()),
                         **diagnostics(res.model, fs, cfg)})
            print(f"  {name:16s} seed {seed}: avg mAP {100 * test['average_mAP']:.1f} "
                  f"(attention AUC {runs[-1]['attention_auc']:.3f}, CAS AUC {runs[-1]['cas_auc']:.3f}, "
                  f"mAP | GT attention {100 * runs[-1]['oracle_attention_mAP']:.1f}, train mAP "
                  f"{100 * runs[-1]['train_mAP']:.1f}; {runs[-1]['seconds']:.0f} s)", file=sys.stderr, flush=True)
        results.append({"row": name, "modules": cfg.enabled_modules(), "runs": runs})
    total = time.perf_counter() - started

    print(f"\nSynthetic set ({args.mode} mode): seed {args.data_seed}, {args.train_videos} train / "
          f"{args.test_videos} test videos of {args.min_snippets}-{args.max_snippets} snippets, "
          f"{args.classes} classes, 2 x {args.dim}-d; {args.iterations} iterations, preset '{args.preset}'"
          f"{', ' + ' '.join(args.overrides) if args.overrides else ''}; training seeds {seeds}; "
          f"{total:.0f} s in all\n")
    print_tables(results)
    if args.json:
        Path(args.json).write_text(json.dumps({"args": vars(args), "seconds": total, "results": results},
                                              indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
