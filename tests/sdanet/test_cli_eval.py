"""`sdanet eval` as a user runs it: real THUMOS14 / ActivityNet ground truth, a result file
written by the data layer, the JSON contract on stdout, one-line errors with exit code 1."""

from __future__ import annotations

import json

import pytest

from sdanet_gui.cli import main
from sdanet_gui.data.annotations import load_annotations, save_predictions
from sdanet_gui.data.structures import Segment


@pytest.fixture(scope="module")
def thumos_dir(shared_data):
    return shared_data / "annotations" / "thumos14_cmcs" / "test"


@pytest.fixture(scope="module")
def perfect_thumos(thumos_dir, tmp_path_factory):
    gt = load_annotations(thumos_dir)
    preds = {n: [Segment(s.label, s.start, s.end, 1.0) for s in v.segments] for n, v in gt.videos.items()}
    # one wrong extra prediction per class in the first video, lowest score
    first = next(n for n, v in gt.videos.items() if v.segments)
    preds[first] = preds[first] + [Segment(c, 0.0, 0.5, 0.01) for c in gt.classes]
    path = tmp_path_factory.mktemp("pred") / "pred.json"
    save_predictions(preds, path)
    return path


def run_cli(capsys, *argv):
    code = main(["eval", *map(str, argv)])
    out, err = capsys.readouterr()
    return code, out, err


def test_json_contract_on_real_thumos_gt(capsys, thumos_dir, perfect_thumos):
    code, out, err = run_cli(capsys, "--gt", thumos_dir, "--pred", perfect_thumos, "--json")
    assert code == 0
    data = json.loads(out)
    assert list(data) == ["tiou_thresholds", "mAP", "average_mAP", "per_class"]
    assert data["tiou_thresholds"] == [0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7]
    assert list(data["mAP"]) == ["0.10", "0.20", "0.30", "0.40", "0.50", "0.60", "0.70"]
    assert all(v == 1.0 for v in data["mAP"].values()) and data["average_mAP"] == 1.0
    assert len(data["per_class"]) == 20
    assert data["per_class"]["BaseballPitch"]["0.50"] == 1.0
    assert "THUMOS14" in err


def test_table_and_chosen_thresholds(capsys, thumos_dir, perfect_thumos):
    code, out, err = run_cli(capsys, "--gt", thumos_dir, "--pred", perfect_thumos, "--tiou", "0.5,0.75")
    assert code == 0
    lines = out.splitlines()
    assert any(l.startswith("mAP") and "100.00" in l for l in lines)
    assert "0.50" in out and "0.75" in out and "0.10" not in out
    assert sum(1 for l in lines if l.startswith("CliffDiving")) == 1


def test_wtalc_gt_with_two_subsets_picks_the_predicted_one(capsys, shared_data, perfect_thumos):
    wtalc = shared_data / "annotations" / "thumos14reduced_wtalc"
    code, out, err = run_cli(capsys, "--gt", wtalc, "--pred", perfect_thumos, "--json")
    assert code == 0 and "subset 'test'" in err
    assert json.loads(out)["average_mAP"] > 0.9
    code, out, err = run_cli(capsys, "--gt", wtalc, "--pred", perfect_thumos,
                             "--subset", "validation", "--json")
    assert code == 0 and json.loads(out)["average_mAP"] == 0.0


def test_activitynet_gt_defaults_to_activitynet_thresholds(capsys, shared_data, tmp_path):
    gt_path = shared_data / "annotations" / "activitynet13_subset_mmaction2" / "gt.json"
    gt = load_annotations(gt_path)
    preds = {n: [Segment(s.label, s.start, s.end + 0.1 * (s.end - s.start), 0.5) for s in v.segments]
             for n, v in gt.videos.items()}
    save_predictions(preds, tmp_path / "p.json")
    code, out, err = run_cli(capsys, "--gt", gt_path, "--pred", tmp_path / "p.json", "--json")
    assert code == 0 and "ActivityNet" in err
    data = json.loads(out)
    assert list(data["mAP"])[0] == "0.50" and list(data["mAP"])[-1] == "0.95"
    # tIoU of a 10 % longer prediction is 1/1.1 = 0.909: matched up to 0.90, missed at 0.95
    assert data["mAP"]["0.90"] == 1.0 and data["mAP"]["0.95"] == 0.0


@pytest.mark.parametrize("case", ["missing_pred", "bad_json", "bad_tiou", "bad_subset", "missing_gt"])
def test_bad_input_gives_one_line_and_exit_1(capsys, thumos_dir, perfect_thumos, tmp_path, case):
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    argv = {
        "missing_pred": ["--gt", thumos_dir, "--pred", tmp_path / "nope.json"],
        "bad_json": ["--gt", thumos_dir, "--pred", bad],
        "bad_tiou": ["--gt", thumos_dir, "--pred", perfect_thumos, "--tiou", "0.7:0.1:0.1"],
        "bad_subset": ["--gt", thumos_dir, "--pred", perfect_thumos, "--subset", "training"],
        "missing_gt": ["--gt", tmp_path / "nogt", "--pred", perfect_thumos],
    }[case]
    code, out, err = run_cli(capsys, *argv)
    assert code == 1
    assert out == ""
    lines = [l for l in err.splitlines() if l.strip()]
    assert len(lines) == 1 and lines[0].startswith("sdanet eval: error:")
    assert "Traceback" not in err
