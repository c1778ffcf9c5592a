"""Differential test: `sdanet eval` on random ground-truth and result files gives the numbers of
the plain, step-by-step loop of tests/sdanet/official_reference.py (the official ActivityNet
algorithm), to 1e-9, on every file it accepts.

The files are made to hit what moves numbers: exact score ties, equal-tIoU ground truths (a grid
of times, duplicated ground truth, videos with more than 16 instances of a class), exact
duplicate predictions, zero-length and reversed spans, predictions on videos of the other subset
and on videos the ground truth does not have."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sdanet_gui.cli import main

_spec = importlib.util.spec_from_file_location("official_reference",
                                               Path(__file__).with_name("official_reference.py"))
REF = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(REF)

CLASSES = ["A", "B", "C"]
SCORES = [0.1, 0.25, 0.5, 0.5, 0.75, 0.9, 1.0]


def random_files(seed: int) -> tuple[dict, dict]:
    rng = np.random.default_rng(seed)
    database = {}
    for v in range(int(rng.integers(2, 7))):
        subset = "test" if v % 3 else "validation"
        many = rng.random() < 0.3                       # > 16 instances of one class
        anns = []
        for _ in range(int(rng.integers(18, 26) if many else rng.integers(0, 6))):
            start = float(rng.integers(0, 40)) / 2       # a 0.5 s grid: equal tIoUs happen
            length = float(rng.integers(0, 12)) / 2      # zero-length ground truth too
            label = "A" if many else str(rng.choice(CLASSES))
            anns.append({"segment": [start, start + length], "label": label})
            if rng.random() < 0.15:                      # an exact duplicate instance
                anns.append(dict(anns[-1]))
        database[f"video_{v}"] = {"subset": subset, "duration": 40.0, "annotations": anns}
    results = {}
    names = list(database) + ["video_unknown_1", "video_unknown_2"]
    for name in names:
        gts = database.get(name, {"annotations": []})["annotations"]
        preds = []
        for ann in gts:
            for _ in range(int(rng.integers(0, 3))):
                s, e = ann["segment"]
                js, je = (rng.integers(-2, 3, 2) / 2).tolist()
                preds.append({"label": ann["label"] if rng.random() < 0.85 else str(rng.choice(CLASSES)),
                              "score": float(rng.choice(SCORES)), "segment": [s + js, e + je]})
        for _ in range(int(rng.integers(0, 6))):
            s = float(rng.integers(-4, 44)) / 2
            kind = rng.random()
            e = s if kind < 0.15 else (s - float(rng.integers(1, 6)) / 2 if kind < 0.3
                                       else s + float(rng.integers(1, 12)) / 2)
            preds.append({"label": str(rng.choice(CLASSES)), "score": float(rng.choice(SCORES)),
                          "segment": [s, e]})
        for p in list(preds):
            if rng.random() < 0.1:                       # exact duplicate prediction
                preds.append(dict(p))
        order = rng.permutation(len(preds))
        results[name] = [preds[i] for i in order]
    return {"version": "VERSION 1.3", "database": database}, {"version": "x", "results": results}


TIOUS = {"thumos": "0.1:0.7:0.1", "anet": "0.5:0.95:0.05", "one": "0.3"}


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow,
                                                                 HealthCheck.function_scoped_fixture])
@given(seed=st.integers(0, 2 ** 31 - 1), tiou=st.sampled_from(list(TIOUS)))
def test_sdanet_eval_equals_the_plain_official_loop(seed, tiou, tmp_path, capsys):
    gt_doc, res_doc = random_files(seed)
    gt_rows, classes = REF.ground_truth_rows(gt_doc, "test")
    if not gt_rows:
        return  # `sdanet eval` refuses ground truth without segments; nothing to compare
    gt_path, pred_path = tmp_path / f"gt{seed}.json", tmp_path / f"pred{seed}.json"
    gt_path.write_text(json.dumps(gt_doc))
    pred_path.write_text(json.dumps(res_doc))
    code = main(["eval", "--gt", str(gt_path), "--pred", str(pred_path), "--subset", "test",
                 "--tiou", TIOUS[tiou], "--json"])
    out, err = capsys.readouterr()
    assert code == 0, err
    got = json.loads(out)
    tious = got["tiou_thresholds"]
    pred_rows = [r for r in REF.prediction_rows(res_doc) if r[3] in classes]
    ap = REF.detection_ap(gt_rows, classes, pred_rows, tious)
    assert sorted(got["per_class"]) == sorted(classes)
    for ci, c in enumerate(classes):
        for k, t in enumerate(tious):
            assert abs(got["per_class"][c][f"{t:.2f}"] - ap[k, ci]) <= 1e-9, (c, t)
    ref_map = ap.mean(axis=1)
    for k, t in enumerate(tious):
        assert abs(got["mAP"][f"{t:.2f}"] - ref_map[k]) <= 1e-9
    assert abs(got["average_mAP"] - ref_map.mean()) <= 1e-9
    n_reversed = sum(1 for r in REF.prediction_rows(res_doc) if r[2] < r[1])
    warned = [line for line in err.splitlines() if "end before they start" in line]
    if n_reversed:
        assert len(warned) == 1 and warned[0].startswith(f"sdanet eval: {n_reversed} prediction")
    else:
        assert not warned


def test_reversed_predictions_are_scored_with_a_warning_and_strict_refuses(tmp_path, capsys):
    gt = {"database": {"v1": {"subset": "test", "annotations": [{"segment": [0, 10], "label": "A"}]}}}
    res = {"results": {"v1": [{"label": "A", "score": 0.9, "segment": [10, 2]},
                              {"label": "A", "score": 0.8, "segment": [0, 10]}]}}
    (tmp_path / "gt.json").write_text(json.dumps(gt))
    (tmp_path / "p.json").write_text(json.dumps(res))
    args = ["eval", "--gt", str(tmp_path / "gt.json"), "--pred", str(tmp_path / "p.json"),
            "--tiou", "0.5", "--json"]
    assert main(args) == 0
    out, err = capsys.readouterr()
    assert json.loads(out)["average_mAP"] == 0.5       # the reversed one is a false positive
    assert "1 prediction of" in err and "end before they start" in err
    assert main(args + ["--strict"]) == 1
    err = capsys.readouterr().err
    assert "p.json" in err and "ends before it starts" in err and "Traceback" not in err
