"""`sdanet eval`: detection mAP of an ActivityNet-format result file against ground truth.

    sdanet eval --gt GT --pred PRED.json [--subset NAME] [--tiou 0.1:0.7:0.1 | 0.5,0.75,0.95] [--json]

GT is any annotation format `data.annotations.load_annotations` reads (ActivityNet JSON, THUMOS14
txt folder, W-TALC folder, CSV, ...). Ambiguous intervals are not ground truth. Predictions on
videos outside the evaluated ground truth count as false positives, as in the official
ActivityNet evaluator (the count is reported on stderr); so do predictions that end before they
start (counted on stderr; `--strict` refuses the file instead). The numbers are the official
evaluator's, ties included (sdanet/evaluation.py says how).
Defaults: without --subset, a single-subset GT is used whole; otherwise the subset holding most
of the predicted videos is evaluated (named on stderr). Without --tiou, THUMOS14's 0.1:0.7:0.1,
unless the GT looks like ActivityNet (most video ids start with 'v_', or >= 100 classes): then
0.5:0.95:0.05. The choice is printed on stderr, so `--json` output on stdout stays pure JSON:
  {"tiou_thresholds": [...], "mAP": {"0.10": ...}, "average_mAP": ..., "per_class": {...}}
(per_class: class -> {"0.10": AP, ..., "average": mean AP}). Thin: parse, load, evaluate, print.
"""

from __future__ import annotations

NAME = "eval"
HELP = "detection mAP (ActivityNet algorithm) of a result file against ground-truth annotations"


def add_arguments(parser) -> None:
    parser.add_argument("--gt", required=True, metavar="GT",
                        help="ground-truth annotations (file or folder, any supported format)")
    parser.add_argument("--pred", required=True, metavar="PRED.json",
                        help="ActivityNet result file ('results': video -> [{label, score, segment}])")
    parser.add_argument("--subset", metavar="NAME", help="evaluate only the GT videos of this subset")
    parser.add_argument("--tiou", metavar="LIST",
                        help="tIoU thresholds: start:stop:step (stop included) or a,b,c "
                             "(default: THUMOS14 0.1:0.7:0.1, ActivityNet 0.5:0.95:0.05)")
    parser.add_argument("--json", action="store_true", help="print the result as JSON")
    parser.add_argument("--strict", action="store_true",
                        help="refuse predictions that end before they start (by default they are "
                             "scored as the official evaluator scores them, with a warning)")


def looks_like_activitynet(gt) -> bool:
    names = list(gt.videos)
    if not names:
        return False
    v_ids = sum(1 for n in names if n.startswith("v_"))
    n_classes = len(set(gt.classes) | set(gt.all_labels()))
    return v_ids * 2 > len(names) or n_classes >= 100


def run(args) -> int:
    import json
    import sys
    from pathlib import Path

    from ..data.annotations import load_annotations, load_predictions
    from ..errors import UserError
    from ..sdanet.evaluation import ANET_TIOUS, THUMOS_TIOUS, detection_map, format_table, parse_tious

    gt_path, pred_path = Path(args.gt), Path(args.pred)
    tious = None
    if args.tiou:
        try:
            tious = parse_tious(args.tiou)
        except ValueError as exc:
            raise UserError(f"--tiou: {exc}") from None
    gt = load_annotations(gt_path)
    preds = load_predictions(pred_path, for_evaluation=not args.strict)
    reversed_spans = sum(1 for segs in preds.values() for s in segs if s.end < s.start)

    subsets = sorted({v.subset for v in gt.videos.values()})
    if args.subset:
        if args.subset not in subsets:
            raise UserError(f"{gt_path}: subset '{args.subset}' not in the ground truth; available: "
                            f"{', '.join(s or '(none)' for s in subsets) or 'none'}", path=gt_path)
        gt = gt.subset(args.subset)
    elif len(subsets) > 1:
        counts = {s: sum(1 for n in preds if n in gt.videos and gt.videos[n].subset == s)
                  for s in subsets}
        chosen = max(subsets, key=lambda s: (counts[s], s))
        gt = gt.subset(chosen)
        print(f"sdanet eval: evaluating subset '{chosen}' ({len(gt.videos)} videos, "
              f"{counts[chosen]} predicted); use --subset to choose", file=sys.stderr)
    n_gt = sum(len(v.segments) for v in gt.videos.values())
    if n_gt == 0:
        raise UserError(f"{gt_path}: no ground-truth segments to evaluate", path=gt_path)
    if tious is None:
        anet = looks_like_activitynet(gt)
        tious = tuple(float(t) for t in ANET_TIOUS) if anet else THUMOS_TIOUS
        chosen = "0.5:0.95:0.05 (ActivityNet)" if anet else "0.1:0.7:0.1 (THUMOS14)"
        print(f"sdanet eval: tIoU thresholds {chosen}; use --tiou to choose", file=sys.stderr)

    try:
        result = detection_map(gt, preds, tious, classes=list(gt.classes) or None)
    except ValueError as exc:
        raise UserError(f"{pred_path}: {exc}", path=pred_path) from None
    known = set(result.classes)
    foreign = sum(1 for segs in preds.values() for s in segs if s.label not in known)
    if foreign:
        print(f"sdanet eval: ignored {foreign} predictions whose label has no ground truth here",
              file=sys.stderr)
    if preds and not any(name in gt.videos for name in preds):
        print(f"sdanet eval: none of the {len(preds)} predicted videos is in the evaluated ground "
              f"truth; check --subset and the video names", file=sys.stderr)
    if reversed_spans:
        print(f"sdanet eval: {reversed_spans} prediction{'s' if reversed_spans != 1 else ''} of "
              f"{pred_path} end before they start; scored as the official evaluator scores them "
              f"(normally as false positives); --strict refuses such a file", file=sys.stderr)
    if result.predictions_outside_gt:
        print(f"sdanet eval: {result.predictions_outside_gt} predictions are on videos outside the "
              f"evaluated ground truth and count as false positives", file=sys.stderr)
    if args.json:
        print(json.dumps(result.to_json_dict(), indent=2))
    else:
        print(format_table(result))
    return 0
