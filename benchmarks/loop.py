"""What a correction is worth: held-out mAP and reviewer effort against the number of corrected
videos, on generated data with a shifted domain (issue 14, section 4; docs/loop.md).

Setting. The synthetic generator (sdanet_gui/data/synthetic.py) with one seed gives one "world"
of classes; `domain` rotates every class prototype by 70 degrees x domain and moves the
background. A base model is trained on domain A (domain 0); the user's videos are domain B
(domain --shift, default 1.0). Videos of B whose ground truth plays the role of the user's
corrections are taken from a pool; a separate set of B test videos (never corrected, never
trained on) measures every model. The generator lays a video out by (seed, subset, index) only,
so the A videos and the B pool use disjoint indices (no video is the same layout in both).

For each seed and each k in --ks (corrected videos, each reviewed whole):
  (a) fine-tuning with the window's defaults (session FinetuneOptions: 100 steps, the base's
      learning rate, held-out share 0.2, snippet loss 1; no replay: this base records no
      training set, like a checkpoint someone hands you);
  (b) the same with replay of the base's training set (its annotations; its test videos give
      the forgetting figure): what the defaults do when the base records where it was trained
      (`sdanet train --data`);
  (c) a cold start on the same k videos (`sdanet train --project`: cold_start_config, 400 steps).
All three go through the one core the window and the CLI use (`sdanet.finetune.finetune_videos`),
with its own held-out split of the k videos, so what a run trains on is what the window's run
would train on. k = 0 is the base model. Figures: average mAP (tIoU 0.1:0.7) on the B test
videos, and on domain A's test videos before/after (forgetting). Also recorded: whether the
window would have adopted the run (session/adoption.py, on the run's own held-out report).

Reviewer effort (per B test video, for the base model and each model at the largest k). A
simulated reviewer turns the SHOWN predictions (stored predictions through the review window's
display filter, session/prediction_filter.py at its default) into the ground truth, every
segment within tIoU 0.9 of its ground truth, with these actions, each counting 1:
  move a boundary (start or end) onto the ground truth, relabel a prediction, delete a
  prediction, add (draw) a segment, and one "confirm all and mark reviewed" per video
  (Shift+Enter / Ctrl+D: predictions already within tIoU 0.9 need nothing else).
A prediction and a ground-truth segment are paired when fixing the prediction costs at most 1
action (relabel, or one boundary move, when moving one boundary reaches tIoU 0.9; a correct
one costs 0), greedily by cost then tIoU; every other prediction is deleted and every other
ground-truth segment added (a pair that needs 2 actions costs the same as delete + add).
Labelling from nothing: one add per ground-truth segment, plus the one "mark reviewed". The
table also says what the actions are (segments a prediction already matches, fixed with one
action, predictions deleted, segments drawn) and, for comparison only, the effort at the best
display filter value chosen in hindsight on the test videos themselves (an upper bound on what
a better default filter could save, not a figure the window reaches).

Time to better predictions: the wall time of run (a) at the largest k (training and its
held-out evaluation, in this process) plus scoring the k + test videos with the new model, on
this machine: the window runs the same work in a child process. Report `uptime` with it.

    python benchmarks/loop.py [--seeds 0 1 2] [--ks 0 5 10 20 40] [--out docs] [--quick]

Writes <out>/loop.json (every figure), <out>/loop.png (the plot) and prints the table.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
import time
from dataclasses import replace
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

TIOUS = (0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7)
EDIT_TIOU = 0.9


# --- data ------------------------------------------------------------------------------------------

def world(seed: int, args):
    """(A train, A test, B pool, B test) FeatureVideo lists and the shared spec/classes."""
    from sdanet_gui.data.synthetic import make_synthetic

    kw = dict(seed=seed, num_classes=args.classes, dim=args.dim, min_snippets=args.min_snippets,
              max_snippets=args.max_snippets)
    a = make_synthetic(train_videos=args.base_videos, test_videos=args.test_videos, domain=0.0, **kw)
    pool = max(args.ks)
    b = make_synthetic(train_videos=args.base_videos + pool, test_videos=args.test_videos * 2,
                       domain=args.shift, **kw)
    a_train, a_test = a.by_subset("train"), a.by_subset("test")
    b_pool = b.by_subset("train")[args.base_videos:]          # indices the A set does not use
    b_test = b.by_subset("test")[args.test_videos:]
    return a, a_train, a_test, b_pool, b_test


def reviewed_whole(spec, videos):
    return {v.name: [(0.0, float(spec.snippet_to_seconds(v.num_snippets)))] for v in videos}


# --- models ---------------------------------------------------------------------------------------

def train_base(fs, videos, seed: int, steps: int, folder: Path) -> Path:
    from sdanet_gui.sdanet.config import load_preset
    from sdanet_gui.sdanet.trainer import train

    cfg = load_preset("synthetic")
    out = folder / f"base-{seed}.pt"
    train(cfg, replace(fs, videos=list(videos)), out=out, iterations=steps, seed=seed,
          select_on="last", final_test=False)
    return out


def run_variant(kind: str, base: Path, fs, corrected, replay, replay_test, seed: int, steps: dict):
    """One run of the core; returns the TrainResult."""
    from sdanet_gui.sdanet.finetune import COLD_START_STEPS, cold_start_config, finetune_videos
    from sdanet_gui.session.finetuning import DEFAULT_HOLDOUT, DEFAULT_STEPS

    spans = reviewed_whole(fs.spec, corrected)
    data = replace(fs, videos=list(corrected) + list(replay if kind == "replay" else []))
    if kind == "cold":
        return finetune_videos(None, data, corrected, spans, steps=steps.get("cold") or COLD_START_STEPS,
                               out=None, seed=seed, holdout=DEFAULT_HOLDOUT,
                               config=cold_start_config(fs.spec), compare_ckpt=base)
    return finetune_videos(base, data, corrected, spans, steps=steps.get("finetune") or DEFAULT_STEPS,
                           out=None, seed=seed, holdout=DEFAULT_HOLDOUT,
                           replay=replay if kind == "replay" else (),
                           replay_test=replay_test if kind == "replay" else ())


def predictions(model, classes, cfg, spec, videos):
    import torch

    from sdanet_gui.sdanet.localization import PostProcessing
    from sdanet_gui.sdanet.predict import predict_videos

    with torch.no_grad():
        return predict_videos(model.eval(), spec, classes, videos, PostProcessing.from_config(cfg))


def average_map(videos, preds, classes) -> float:
    from sdanet_gui.data.structures import AnnotationSet
    from sdanet_gui.sdanet.evaluation import detection_map

    gt = AnnotationSet({v.name: v.annotation for v in videos}, list(classes))
    return float(detection_map(gt, preds, TIOUS, classes=list(classes)).average_map)


def load(path: Path):
    from sdanet_gui.sdanet.config import SDANetConfig
    from sdanet_gui.sdanet.predict import load_model

    model, meta = load_model(path, "cpu")
    return model, meta.classes, SDANetConfig.from_dict(meta.config, strict=False)


# --- the simulated reviewer -------------------------------------------------------------------------

def _tiou(a, b) -> float:
    inter = min(a[1], b[1]) - max(a[0], b[0])
    if inter <= 0:
        return 0.0
    return inter / (max(a[1], b[1]) - min(a[0], b[0]))


def fix_cost(pred, gt) -> int | None:
    """Actions to turn prediction (label, start, end) into ground truth within EDIT_TIOU:
    0 (already), 1 (relabel, or one boundary move), None (2 or more: no cheaper than delete +
    add)."""
    relabel = int(pred[0] != gt[0])
    span, target = (pred[1], pred[2]), (gt[1], gt[2])
    if _tiou(span, target) >= EDIT_TIOU:
        moves = 0
    elif max(_tiou((gt[1], pred[2]), target), _tiou((pred[1], gt[2]), target)) >= EDIT_TIOU:
        moves = 1
    else:
        moves = 2
    cost = relabel + moves
    return cost if cost <= 1 else None


ACTION_KINDS = ("as_is", "one_fix", "delete", "add")


def edit_actions(shown, truth) -> dict:
    """The simulated reviewer's work on one video (module docstring). shown / truth: lists of
    (label, start_s, end_s). Returns {"actions": total, "as_is": ground-truth segments a shown
    prediction already matches, "one_fix": fixed by one move or relabel, "delete", "add"}."""
    pairs = []
    for i, p in enumerate(shown):
        for j, g in enumerate(truth):
            cost = fix_cost(p, g)
            if cost is not None:
                pairs.append((cost, -_tiou((p[1], p[2]), (g[1], g[2])), i, j))
    used_p, used_g, fixed = set(), set(), [0, 0]
    for cost, _, i, j in sorted(pairs):
        if i in used_p or j in used_g:
            continue
        used_p.add(i)
        used_g.add(j)
        fixed[cost] += 1
    out = {"as_is": fixed[0], "one_fix": fixed[1], "delete": len(shown) - len(used_p),
           "add": len(truth) - len(used_g)}
    out["actions"] = out["one_fix"] + out["delete"] + out["add"] + 1    # + confirm all / done
    return out


FILTERS = (0.3, 0.5, 0.7, 0.9, 1.0)   # display filter values tried in hindsight


def shown_predictions(segments, min_relative: float | None = None) -> list:
    """The predictions the review window shows (its display filter; default: the window's)."""
    from sdanet_gui.session.prediction_filter import DEFAULT_MIN_RELATIVE, visible_predictions

    level = DEFAULT_MIN_RELATIVE if min_relative is None else min_relative
    return [(s.label, s.start, s.end) for s in visible_predictions(segments, level)]


def effort(videos, preds, min_relative: float | None = None) -> dict:
    """Mean actions per video to correct `preds` (None: label from nothing) and what they are
    (means per video of edit_actions' kinds)."""
    rows = []
    for v in videos:
        truth = [(s.label, s.start, s.end) for s in v.annotation.segments]
        if preds is None:
            rows.append({"actions": len(truth) + 1, "as_is": 0, "one_fix": 0, "delete": 0, "add": len(truth)})
        else:
            rows.append(edit_actions(shown_predictions(preds.get(v.name, []), min_relative), truth))
    return {k: float(np.mean([r[k] for r in rows])) for k in ("actions",) + ACTION_KINDS}


def best_filter_effort(videos, preds) -> dict:
    """The lowest mean actions over the display filter values FILTERS, chosen in hindsight on
    these very videos: an upper bound on what a better default filter could save."""
    return min(({**effort(videos, preds, f), "filter": f} for f in FILTERS), key=lambda e: e["actions"])


# --- the run --------------------------------------------------------------------------------------

def one_seed(seed: int, args, folder: Path) -> dict:
    from sdanet_gui.session.adoption import decide

    fs, a_train, a_test, b_pool, b_test = world(seed, args)
    t0 = time.perf_counter()
    base = train_base(fs, a_train, seed, args.base_steps, folder)
    log(f"seed {seed}: base trained ({args.base_steps} steps, {time.perf_counter() - t0:.0f} s)")
    model, classes, cfg = load(base)
    base_b = predictions(model, classes, cfg, fs.spec, b_test)
    base_a = predictions(model, classes, cfg, fs.spec, a_test)
    out = {"seed": seed, "base": {"b": average_map(b_test, base_b, classes),
                                  "a": average_map(a_test, base_a, classes)},
           "effort": {"from_nothing": effort(b_test, None), "base": effort(b_test, base_b),
                      "base_best_filter": best_filter_effort(b_test, base_b)},
           "runs": []}
    for k in args.ks:
        if k == 0:
            continue
        corrected = b_pool[:k]
        for kind in args.kinds:
            t0 = time.perf_counter()
            res = run_variant(kind, base, fs, corrected, a_train, a_test, seed,
                              {"finetune": args.finetune_steps, "cold": args.cold_steps})
            train_s = time.perf_counter() - t0
            f = res.meta.metrics["finetune"]
            t1 = time.perf_counter()       # the window re-scores the project's videos
            pb = predictions(res.model, f["classes"], res.model.cfg, fs.spec, b_test)
            predictions(res.model, f["classes"], res.model.cfg, fs.spec, corrected)
            rescore_s = time.perf_counter() - t1
            pa = predictions(res.model, f["classes"], res.model.cfg, fs.spec, a_test)
            decision = decide(f["held_out_report"], "if-better", current="base")
            row = {"k": k, "kind": kind, "b": average_map(b_test, pb, classes),
                   "a": average_map(a_test, pa, classes), "adopted": decision.adopt,
                   "reason": decision.reason, "held_out_videos": len(f["held_out"]),
                   "train_videos": len(f["train_videos"]), "train_s": train_s, "rescore_s": rescore_s}
            if k == max(args.ks):
                row["effort"] = effort(b_test, pb)
                row["effort_best_filter"] = best_filter_effort(b_test, pb)
            out["runs"].append(row)
            log(f"seed {seed} k={k:2d} {kind:8s}: B {100 * row['b']:5.1f}  A {100 * row['a']:5.1f}  "
                f"adopted={decision.adopt}  ({train_s:.0f} s)")
    return out


def log(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


def summarize(results: list[dict], args) -> dict:
    """Mean and spread (population std over seeds) of every figure."""
    def stats(values):
        values = [v for v in values if v is not None and math.isfinite(v)]
        return {"mean": float(np.mean(values)), "std": float(np.std(values)), "n": len(values)} if values else None

    def effort_stats(entries):
        return {k: stats([e[k] for e in entries]) for k in ("actions",) + ACTION_KINDS}

    table = {"base": {"b": stats([r["base"]["b"] for r in results]),
                      "a": stats([r["base"]["a"] for r in results])},
             "effort": {key: effort_stats([r["effort"][key] for r in results])
                        for key in ("from_nothing", "base", "base_best_filter")},
             "rows": {}}
    for kind in args.kinds:
        for k in args.ks:
            if k == 0:
                continue
            rows = [row for r in results for row in r["runs"] if row["k"] == k and row["kind"] == kind]
            entry = {key: stats([row[key] for row in rows]) for key in ("b", "a", "train_s", "rescore_s")}
            entry["adopted"] = sum(row["adopted"] for row in rows)
            entry["runs"] = len(rows)
            if rows and "effort" in rows[0]:
                entry["effort"] = effort_stats([row["effort"] for row in rows])
                entry["effort_best_filter"] = effort_stats([row["effort_best_filter"] for row in rows])
            table["rows"][f"{kind}:{k}"] = entry
    return table


NAMES = {"defaults": "(a) fine-tune, window defaults", "replay": "(b) fine-tune + replay",
         "cold": "(c) cold start"}


def print_table(table: dict, args) -> str:
    def fmt(s, scale=100.0):
        return "—" if s is None else f"{scale * s['mean']:.1f} ± {scale * s['std']:.1f}"

    ks = [k for k in args.ks if k]
    lines = ["Held-out average mAP (%) on domain B test videos, mean ± std over "
             f"{len(args.seeds)} seeds (base model, k = 0: {fmt(table['base']['b'])})", ""]
    lines.append("| corrected videos k | " + " | ".join(str(k) for k in [0] + ks) + " |")
    lines.append("|---|" + "---|" * (len(ks) + 1))
    for kind in args.kinds:
        cells = [fmt(table["base"]["b"]) if kind != "cold" else "—"]
        cells += [fmt(table["rows"][f"{kind}:{k}"]["b"]) for k in ks]
        lines.append(f"| {NAMES[kind]} | " + " | ".join(cells) + " |")
    lines += ["", f"Domain A test average mAP (%) (forgetting; base {fmt(table['base']['a'])})", ""]
    lines.append("| corrected videos k | " + " | ".join(str(k) for k in ks) + " |")
    lines.append("|---|" + "---|" * len(ks))
    for kind in args.kinds:
        lines.append(f"| {NAMES[kind]} | " + " | ".join(fmt(table["rows"][f"{kind}:{k}"]["a"]) for k in ks) + " |")
    lines += ["", "Runs the window would have adopted (if-better rule, on each run's own held-out videos)", ""]
    lines.append("| corrected videos k | " + " | ".join(str(k) for k in ks) + " |")
    lines.append("|---|" + "---|" * len(ks))
    for kind in args.kinds:
        lines.append(f"| {NAMES[kind]} | " + " | ".join(
            f"{table['rows'][f'{kind}:{k}']['adopted']} of {table['rows'][f'{kind}:{k}']['runs']}" for k in ks) + " |")
    kmax = max(ks)
    nothing = table["effort"]["from_nothing"]["actions"]
    lines += ["", f"Reviewer edit actions per B test video (k = {kmax}), mean ± std over seeds; what "
                  "they are, per video: ground-truth segments a shown prediction already matches "
                  "(no action), fixed by one boundary move or relabel, predictions deleted, segments "
                  "drawn", ""]
    lines.append("| predictions | actions | change vs labelling from nothing | as is | one fix | "
                 "deleted | drawn |")
    lines.append("|---|---|---|---|---|---|---|")

    def change(s):
        return "—" if s is None else f"{100 * (s['mean'] / nothing['mean'] - 1):+.0f} %"

    def row(title, e):
        return (f"| {title} | {fmt(e['actions'], 1)} | {change(e['actions'])} | "
                + " | ".join(f"{e[k]['mean']:.1f}" for k in ACTION_KINDS) + " |")

    lines.append(row("none (label from nothing)", table["effort"]["from_nothing"]))
    lines.append(row("base model", table["effort"]["base"]))
    lines.append(row("base model, best display filter in hindsight", table["effort"]["base_best_filter"]))
    for kind in args.kinds:
        entry = table["rows"][f"{kind}:{kmax}"]
        lines.append(row(NAMES[kind], entry["effort"]))
        lines.append(row(f"{NAMES[kind]}, best display filter in hindsight", entry["effort_best_filter"]))
    t = table["rows"].get(f"defaults:{kmax}")
    if t and t["train_s"]:
        lines += ["", f"Click to better predictions, {kmax} corrected videos, run (a): training + held-out "
                      f"evaluation {t['train_s']['mean']:.0f} s, re-scoring {t['rescore_s']['mean']:.1f} s "
                      f"(mean over seeds, this process, {os.cpu_count()} CPUs visible, torch threads "
                      f"{args.threads})"]
    text = "\n".join(lines)
    print(text)
    return text


# --- the plot (Qt offscreen: no plotting library needed) ------------------------------------------

COLORS = {"defaults": (31, 119, 180), "replay": (44, 160, 44), "cold": (214, 39, 40), "base": (120, 120, 120)}


def plot(table: dict, args, path: Path) -> None:
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from PySide6.QtCore import QPointF, QRectF, Qt
    from PySide6.QtGui import QColor, QFont, QGuiApplication, QImage, QPainter, QPen

    app = QGuiApplication.instance() or QGuiApplication([])  # noqa: F841 - fonts need an app
    w, h = 980, 520
    left, right, top, bottom = 80, 290, 50, 70
    img = QImage(w, h, QImage.Format.Format_ARGB32)
    img.fill(QColor("white"))
    p = QPainter(img)
    p.setRenderHint(QPainter.RenderHint.Antialiasing)
    ks = sorted(args.ks)
    series = {"base": [(0, table["base"]["b"])]}
    for kind in args.kinds:
        pts = [] if kind == "cold" else [(0, table["base"]["b"])]
        pts += [(k, table["rows"][f"{kind}:{k}"]["b"]) for k in ks if k]
        series[kind] = pts
    top_value = max(s["mean"] + s["std"] for pts in series.values() for _, s in pts if s)
    ymax = max(0.1, math.ceil(top_value * 10 + 0.5) / 10)
    xmax = max(ks)

    def xy(k, v, shift=0.0):
        return QPointF(left + (w - left - right) * k / xmax + shift, top + (h - top - bottom) * (1 - v / ymax))

    p.setPen(QPen(QColor(0, 0, 0), 1))
    p.drawLine(xy(0, 0), xy(xmax, 0))
    p.drawLine(xy(0, 0), xy(0, ymax))
    font = QFont()
    font.setPointSize(10)
    p.setFont(font)
    for k in ks:
        pt = xy(k, 0)
        p.drawLine(pt, pt + QPointF(0, 5))
        p.drawText(QRectF(pt.x() - 20, pt.y() + 8, 40, 18), Qt.AlignmentFlag.AlignCenter, str(k))
    steps = 5
    for i in range(steps + 1):
        v = ymax * i / steps
        pt = xy(0, v)
        p.setPen(QPen(QColor(225, 225, 225), 1))
        p.drawLine(pt, xy(xmax, v))
        p.setPen(QPen(QColor(0, 0, 0), 1))
        p.drawText(QRectF(pt.x() - 60, pt.y() - 9, 52, 18), Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter,
                   f"{100 * v:.0f}")
    p.drawText(QRectF(left, h - 35, w - left - right, 20), Qt.AlignmentFlag.AlignCenter,
               "corrected videos of domain B (k)")
    p.save()
    p.translate(22, top + (h - top - bottom) / 2)
    p.rotate(-90)
    p.drawText(QRectF(-150, -10, 300, 20), Qt.AlignmentFlag.AlignCenter, "held-out avg mAP on domain B (%)")
    p.restore()
    title = QFont(font)
    title.setBold(True)
    p.setFont(title)
    p.drawText(QRectF(0, 10, w, 24), Qt.AlignmentFlag.AlignCenter,
               f"Value of a correction: mean ± std over {len(args.seeds)} seeds")
    p.setFont(font)
    for row, kind in enumerate(args.kinds):
        color = QColor(*COLORS[kind])
        p.setPen(QPen(color, 2))
        pts = [(k, s) for k, s in series[kind] if s]
        for (k0, s0), (k1, s1) in zip(pts, pts[1:]):
            p.drawLine(xy(k0, s0["mean"]), xy(k1, s1["mean"]))
        shift = 4.0 * (row - (len(args.kinds) - 1) / 2)   # side by side, not on top of each other
        for k, s in pts:
            p.drawLine(xy(k, max(0.0, s["mean"] - s["std"]), shift), xy(k, s["mean"] + s["std"], shift))
            p.drawEllipse(xy(k, s["mean"]), 3.5, 3.5)
        y = top + 20 + 26 * row
        p.drawLine(QPointF(w - right + 20, y), QPointF(w - right + 50, y))
        p.setPen(QPen(QColor(0, 0, 0), 1))
        p.drawText(QRectF(w - right + 56, y - 10, right - 60, 20), Qt.AlignmentFlag.AlignVCenter, NAMES[kind])
    base = table["base"]["b"]["mean"]
    p.setPen(QPen(QColor(*COLORS["base"]), 1, Qt.PenStyle.DashLine))
    p.drawLine(xy(0, base), xy(xmax, base))
    y = top + 20 + 26 * len(args.kinds)
    p.drawLine(QPointF(w - right + 20, y), QPointF(w - right + 50, y))
    p.setPen(QPen(QColor(0, 0, 0), 1))
    p.drawText(QRectF(w - right + 56, y - 10, right - 60, 20), Qt.AlignmentFlag.AlignVCenter, "base model (domain A)")
    p.end()
    path.parent.mkdir(parents=True, exist_ok=True)
    img.save(str(path))


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    ap.add_argument("--ks", type=int, nargs="+", default=[0, 5, 10, 20, 40])
    ap.add_argument("--kinds", nargs="+", default=["defaults", "replay", "cold"], choices=list(NAMES))
    ap.add_argument("--classes", type=int, default=4)
    ap.add_argument("--dim", type=int, default=32, help="feature dims per modality (rgb + flow)")
    ap.add_argument("--min-snippets", type=int, default=60)
    ap.add_argument("--max-snippets", type=int, default=140)
    ap.add_argument("--base-videos", type=int, default=40, help="domain A training videos")
    ap.add_argument("--test-videos", type=int, default=20, help="test videos of each domain")
    ap.add_argument("--base-steps", type=int, default=300)
    ap.add_argument("--shift", type=float, default=1.0, help="domain of B (0 = A)")
    ap.add_argument("--finetune-steps", type=int, default=None, help="default: the window's (100)")
    ap.add_argument("--cold-steps", type=int, default=None, help="default: a cold start's (400)")
    ap.add_argument("--threads", type=int, default=1, help="torch CPU threads")
    ap.add_argument("--out", type=Path, default=ROOT / "docs")
    ap.add_argument("--quick", action="store_true", help="one seed, k = 0 5 10, small: a smoke run")
    ap.add_argument("--from-json", type=Path, metavar="LOOP_JSON",
                    help="print the table and draw the plot of a finished run again (its loop.json)")
    args = ap.parse_args(argv)
    if args.from_json:
        info = json.loads(args.from_json.read_text())
        saved = argparse.Namespace(**{**info["args"], "out": Path(info["args"]["out"])})
        print_table(info["table"], saved)
        plot(info["table"], saved, args.from_json.with_suffix(".png"))
        return 0
    if args.quick:
        args.seeds, args.ks, args.base_steps, args.test_videos = [0], [0, 5, 10], 100, 8
    steps = {k: v for k, v in (("finetune", args.finetune_steps), ("cold", args.cold_steps)) if v}
    args.finetune_steps, args.cold_steps = steps.get("finetune"), steps.get("cold")

    import tempfile

    import torch

    torch.set_num_threads(args.threads)
    os.environ.setdefault("SDANET_DEVICE", "cpu")
    started = time.perf_counter()
    load_before = os.getloadavg()
    results = []
    with tempfile.TemporaryDirectory(prefix="sdanet-loop-") as tmp:
        for seed in args.seeds:
            results.append(one_seed(seed, args, Path(tmp)))
    table = summarize(results, args)
    text = print_table(table, args)
    wall = time.perf_counter() - started
    info = {"args": {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items()},
            "wall_s": wall, "load_before": load_before, "load_after": os.getloadavg(),
            "table": table, "results": results, "text": text}
    args.out.mkdir(parents=True, exist_ok=True)
    stem = "loop-quick" if args.quick else "loop"
    (args.out / f"{stem}.json").write_text(json.dumps(info, indent=1, default=str))
    plot(table, args, args.out / f"{stem}.png")
    print(f"\nwall {wall:.0f} s; load average before {load_before[0]:.2f}, after {os.getloadavg()[0]:.2f}; "
          f"wrote {args.out / (stem + '.json')} and {args.out / (stem + '.png')}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
