"""`sdanet import` / `sdanet export` as a user runs them."""

from __future__ import annotations

import json

from sdanet_gui.cli import main
from sdanet_gui.data.annotations import load_annotations
from sdanet_gui.project.store import Project


def test_import_creates_the_project_and_export_writes_every_format(shared_data, tmp_path, capsys):
    src = shared_data / "annotations" / "activitynet13_subset_mmaction2" / "gt.json"
    proj = tmp_path / "proj"
    assert main(["import", "--project", str(proj), "--annotations", str(src)]) == 0
    assert "2 new videos, 4 segments" in capsys.readouterr().out
    with Project.open(proj, read_only=True) as p:
        assert len(p.segments()) == 4
    for fmt, out in [("activitynet", "a.json"), ("csv", "a.csv"), ("thumos14", "thumos"),
                     ("elan", "elan"), ("wtalc", "wtalc")]:
        assert main(["export", "--project", str(proj), "--format", fmt,
                     "--out", str(tmp_path / out)]) == 0
        back = load_annotations(tmp_path / out)
        assert sum(len(v.segments) for v in back.videos.values()) == 4, fmt
    assert main(["export", "--project", str(proj), "--format", "csv", "--out",
                 str(tmp_path / "one.csv"), "--videos", "v_hDPLy21Yyuk"]) == 0
    assert list(load_annotations(tmp_path / "one.csv").videos) == ["v_hDPLy21Yyuk"]


def test_a_malformed_file_is_one_line_and_exit_1(tmp_path, capsys):
    bad = tmp_path / "gt.json"
    bad.write_text(json.dumps({"database": {"v1": {"subset": "test", "duration": 5.0,
                                                   "annotations": [{"segment": [3, 1], "label": "A"}]}}}))
    assert main(["import", "--project", str(tmp_path / "p"), "--annotations", str(bad)]) == 1
    err = capsys.readouterr().err.strip()
    assert err.startswith("sdanet import: error:") and "\n" not in err and str(bad) in err
    with Project.open(tmp_path / "p", read_only=True) as p:
        assert p.videos() == [] and p.segments() == []


def test_predictions_and_fixed_classes_from_the_command_line(tmp_path, capsys):
    res = tmp_path / "results.json"
    res.write_text(json.dumps({"results": {"v1": [{"label": "A", "score": 0.5, "segment": [1, 2]}]}}))
    proj = str(tmp_path / "p")
    assert main(["import", "--project", proj, "--annotations", str(res)]) == 0
    assert "1 predicted segments" in capsys.readouterr().out
    gt = tmp_path / "gt.json"
    gt.write_text(json.dumps({"database": {"v1": {"subset": "test", "duration": 5.0,
                                                  "annotations": [{"segment": [1, 2], "label": "B"}]}}}))
    assert main(["import", "--project", proj, "--annotations", str(gt), "--fixed-classes"]) == 1
    assert "'B'" in capsys.readouterr().err
    assert main(["export", "--project", proj, "--format", "csv", "--out",
                 str(tmp_path / "o.csv"), "--only-reviewed"]) == 1
    assert "no video is marked reviewed" in capsys.readouterr().err
