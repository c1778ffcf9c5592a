"""Ablation of SDANet's modules on the synthetic feature set: baseline, each module alone, full.

    .venv/bin/python benchmarks/ablation.py [--iterations N] [--seeds 0,1] [--json OUT]

Trains every configuration with the project's trainer (`sdanet_gui.sdanet.trainer.train`) on
`make_synthetic(seed=--data-seed)` with the `synthetic` preset, and prints a markdown table of
detection mAP on the synthetic test subset at tIoU 0.1:0.1:0.7 and their average (the THUMOS14
protocol). The weights kept are those of the last step (`select_on="last"`): no selection on
the test set, and no validation split that would take videos away from a small training set.
Rows:
  baseline             all five modules off (the CO2-Net-like model)
  + mtff / + sda / ... the baseline with that one module switched on
  full SDANet          all five on
With several seeds the table shows mean and standard deviation over the seeds (model
initialisation and batch order; the data set is the same).
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sdanet_gui.sdanet.config import MODULE_NAMES, apply_overrides, apply_without, load_preset  # noqa: E402

ROWS = [("baseline", [])] + [(f"+ {m}", [m]) for m in MODULE_NAMES] + [("full SDANet", list(MODULE_NAMES))]


def configs(overrides: list[str]):
    base = apply_overrides(load_preset("synthetic"), overrides)
    for name, on in ROWS:
        yield name, apply_without(base, [m for m in MODULE_NAMES if m not in on])


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--iterations", type=int, default=150)
    ap.add_argument("--seeds", default="0", help="comma list of training seeds (default 0)")
    ap.add_argument("--data-seed", type=int, default=0)
    ap.add_argument("--train-videos", type=int, default=40)
    ap.add_argument("--test-videos", type=int, default=20)
    ap.add_argument("--max-snippets", type=int, default=200)
    ap.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE")
    ap.add_argument("--only", help="comma list of row names to run (e.g. 'baseline,full SDANet')")
    ap.add_argument("--threads", type=int, default=1, help="torch CPU threads (default 1)")
    ap.add_argument("--json", metavar="OUT", help="also write the measured figures as JSON")
    args = ap.parse_args(argv)

    import torch

    from sdanet_gui.data.synthetic import make_synthetic
    from sdanet_gui.sdanet.trainer import train

    torch.set_num_threads(args.threads)
    seeds = [int(s) for s in args.seeds.split(",") if s.strip()]
    only = {s.strip() for s in args.only.split(",")} if args.only else None
    fs = make_synthetic(seed=args.data_seed, train_videos=args.train_videos, test_videos=args.test_videos,
                        max_snippets=args.max_snippets)
    results = []
    started = time.perf_counter()
    for name, cfg in configs(args.overrides):
        if only and name not in only:
            continue
        runs = []
        for seed in seeds:
            t0 = time.perf_counter()
            res = train(cfg, fs, iterations=args.iterations, seed=seed, select_on="last", device="cpu")
            test = res.metrics["test"]
            runs.append({"seed": seed, "average_mAP": test["average_mAP"], "mAP": test["mAP"],
                         "seconds": time.perf_counter() - t0,
                         "params": sum(p.numel() for p in res.model.parameters())})
            print(f"  {name:16s} seed {seed}: avg mAP {100 * test['average_mAP']:.1f} "
                  f"({runs[-1]['seconds']:.0f} s)", file=sys.stderr, flush=True)
        results.append({"row": name, "modules": cfg.enabled_modules(), "runs": runs})
    total = time.perf_counter() - started

    tious = list(results[0]["runs"][0]["mAP"]) if results else []
    print(f"\nSynthetic set: seed {args.data_seed}, {args.train_videos} train / {args.test_videos} test "
          f"videos, 5 classes, 2 x 64-d; {args.iterations} iterations, preset 'synthetic'"
          f"{', ' + ' '.join(args.overrides) if args.overrides else ''}; training seeds {seeds}; "
          f"{total:.0f} s in all\n")
    head = "| configuration | " + " | ".join(f"mAP@{t}" for t in tious) + " | avg 0.1:0.7 |"
    print(head)
    print("|" + "---|" * (len(tious) + 2))
    for r in results:
        cells = []
        for t in tious:
            vals = [100 * run["mAP"][t] for run in r["runs"]]
            cells.append(f"{statistics.mean(vals):.1f}")
        avg = [100 * run["average_mAP"] for run in r["runs"]]
        sd = f" ± {statistics.stdev(avg):.1f}" if len(avg) > 1 else ""
        print(f"| {r['row']} | " + " | ".join(cells) + f" | **{statistics.mean(avg):.1f}**{sd} |")
    if args.json:
        Path(args.json).write_text(json.dumps({"args": vars(args), "seconds": total, "results": results},
                                              indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
