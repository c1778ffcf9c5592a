"""A plain, step-by-step detection mAP in the manner of the official ActivityNet evaluator
(`ANETdetection` with `compute_average_precision_detection` in ActivityNet's
eval_detection.py), written here from its description - one prediction at a time, no
vectorization - so that `sdanet_gui.sdanet.evaluation` can be checked against it.

What the official evaluator does, and this module does in the same order:
  1. Ground truth: the `database` videos of the chosen subset, every annotation kept (duplicates
     too) in file order; the class index is the order in which labels first appear there.
  2. Predictions: every entry of `results`, in file order (video by video, list order).
  3. Per class: predictions sorted by `scores.argsort()[::-1]` (numpy's default sort, then
     reversed: exact score ties come out in whatever order that sort leaves them).
  4. Each prediction in turn: no ground truth of its class in its video -> false positive at
     every threshold. Else the tIoU with each of those ground truths (in file order), computed as
     intersection / union with the intersection clipped at 0 and the union = ground-truth length
     + prediction length - intersection (so 0/0 gives NaN); ground truths are tried in
     `tiou.argsort()[::-1]` order; per threshold: the first tried one whose tIoU is below the
     threshold ends the search (false positive), one already matched at this threshold is
     skipped, the first free one is matched (true positive). A NaN tIoU is never "below".
  5. Precision/recall from the cumulative TP/FP counts (recall over all ground truth of the
     class); AP = the all-points interpolated area (precision made non-increasing from the
     right, summed over the recall steps); mAP per threshold = mean over the classes of the
     ground truth; a class without predictions has AP 0.
Predictions whose label is not a ground-truth class make the official code fail; here (as in
`sdanet eval`) they are left out.
"""

from __future__ import annotations

import numpy as np


# --- reading, as the official evaluator reads its two JSON files -------------------------------

def ground_truth_rows(gt_doc: dict, subset: str | None):
    """[(video, start, end, label)] of the subset, file order; and the class index order."""
    rows, classes = [], []
    database = gt_doc["database"] if "database" in gt_doc else gt_doc
    for video, entry in database.items():
        if subset is not None and entry.get("subset") != subset:
            continue
        for ann in entry.get("annotations", []):
            if ann["label"] not in classes:
                classes.append(ann["label"])
            rows.append((video, float(ann["segment"][0]), float(ann["segment"][1]), ann["label"]))
    return rows, classes


def prediction_rows(results_doc: dict):
    """[(video, start, end, label, score)] in file order."""
    rows = []
    for video, preds in results_doc["results"].items():
        for p in preds:
            rows.append((video, float(p["segment"][0]), float(p["segment"][1]), p["label"],
                         float(p["score"])))
    return rows


def rows_of_sets(gt, preds):
    """The same rows from an AnnotationSet and {video: [Segment]} (labels 'Ambiguous' are not
    ground truth, as in `sdanet eval`)."""
    gt_rows, classes = [], []
    for name, video in gt.videos.items():
        for s in video.segments:
            if s.label.lower() == "ambiguous":
                continue
            if s.label not in classes:
                classes.append(s.label)
            gt_rows.append((name, float(s.start), float(s.end), s.label))
    pred_rows = [(name, float(s.start), float(s.end), s.label, float(s.score))
                 for name, segs in preds.items() for s in segs]
    return gt_rows, classes, pred_rows


# --- the algorithm --------------------------------------------------------------------------------

def tiou_against(start, end, gt_starts, gt_ends):
    """tIoU of one prediction with each ground truth, as the official formula gives it."""
    inter = np.clip(np.minimum(end, gt_ends) - np.maximum(start, gt_starts), 0, None)
    union = (gt_ends - gt_starts) + (end - start) - inter
    with np.errstate(divide="ignore", invalid="ignore"):
        return inter.astype(float) / union


def interpolated_ap(precision, recall) -> float:
    mprec = [0.0] + list(precision) + [0.0]
    mrec = [0.0] + list(recall) + [1.0]
    for i in range(len(mprec) - 2, -1, -1):
        mprec[i] = max(mprec[i], mprec[i + 1])
    ap = 0.0
    for i in range(1, len(mrec)):
        if mrec[i] != mrec[i - 1]:
            ap += (mrec[i] - mrec[i - 1]) * mprec[i]
    return ap


def class_ap(gt_rows, pred_rows, tious) -> np.ndarray:
    """AP per threshold of one class. gt_rows [(video, start, end)], pred_rows
    [(video, start, end, score)], both in file order."""
    ap = np.zeros(len(tious))
    if not pred_rows:
        return ap
    npos = float(len(gt_rows))
    scores = np.array([p[3] for p in pred_rows], dtype=np.float64)
    order = scores.argsort()[::-1]
    by_video: dict = {}
    for gi, (video, _, _) in enumerate(gt_rows):
        by_video.setdefault(video, []).append(gi)
    matched_by = -np.ones((len(tious), len(gt_rows)))
    tp = np.zeros((len(tious), len(order)))
    fp = np.zeros((len(tious), len(order)))
    for idx, pi in enumerate(order):
        video, start, end, _ = pred_rows[pi]
        gis = by_video.get(video)
        if gis is None:
            fp[:, idx] = 1
            continue
        tiou = tiou_against(start, end, np.array([gt_rows[g][1] for g in gis]),
                            np.array([gt_rows[g][2] for g in gis]))
        tried = tiou.argsort()[::-1]
        for t, threshold in enumerate(tious):
            for j in tried:
                if tiou[j] < threshold:
                    fp[t, idx] = 1
                    break
                if matched_by[t, gis[j]] >= 0:
                    continue
                tp[t, idx] = 1
                matched_by[t, gis[j]] = idx
                break
            if fp[t, idx] == 0 and tp[t, idx] == 0:
                fp[t, idx] = 1
    tp_cum = np.cumsum(tp, axis=1)
    fp_cum = np.cumsum(fp, axis=1)
    recall = tp_cum / npos
    precision = tp_cum / (tp_cum + fp_cum)
    for t in range(len(tious)):
        ap[t] = interpolated_ap(precision[t], recall[t])
    return ap


def detection_ap(gt_rows, classes, pred_rows, tious):
    """-> ap [K, C] in `classes` order (the ground truth's first-appearance order)."""
    ap = np.zeros((len(tious), len(classes)))
    for ci, c in enumerate(classes):
        g = [(v, s, e) for v, s, e, label in gt_rows if label == c]
        p = [(v, s, e, sc) for v, s, e, label, sc in pred_rows if label == c]
        ap[:, ci] = class_ap(g, p, tious)
    return ap


def reference_detection_map(gt, preds, tious):
    """(classes, ap [K, C]) for an AnnotationSet and {video: [Segment]}."""
    gt_rows, classes, pred_rows = rows_of_sets(gt, preds)
    return classes, detection_ap(gt_rows, classes, pred_rows, list(tious))
