"""Malformed annotation files give one clear line naming the file, the entry and the problem, and
a failed export leaves what was there before untouched."""

from __future__ import annotations

import json
import os
import shutil

import numpy as np
import pytest

from sdanet_gui.data.annotations import (load_annotations, load_predictions, save_annotations,
                                         save_predictions)
from sdanet_gui.data.structures import AnnotationSet, Segment, VideoAnnotation
from sdanet_gui.errors import UserError


def _error(fn, *args, **kwargs) -> str:
    with pytest.raises(UserError) as info:
        fn(*args, **kwargs)
    msg = str(info.value)
    assert "\n" not in msg and "Traceback" not in msg
    return msg


def _gt(tmp_path, annotations, name="gt.json", **top):
    doc = {"database": {"v1": {"subset": "test", "duration": 30.0, "annotations": annotations}}, **top}
    path = tmp_path / name
    path.write_text(json.dumps(doc))
    return path


def test_bad_json_names_line_and_column(tmp_path):
    path = tmp_path / "gt.json"
    path.write_text('{"database": {\n  "v1": {"subset": "test",\n  "annotations": [}\n}')
    msg = _error(load_annotations, path)
    assert str(path) in msg and "line 3" in msg and "column" in msg and "not valid JSON" in msg


@pytest.mark.parametrize("segment,problem", [([5.0, 2.0], "ends before it starts"),
                                             (["abc", 4.0], "not a number"),
                                             ([1.0, None], "not a number"),
                                             ([1.0], "expected [start, end]"),
                                             ([1.0, float("nan")], "not a finite number")])
def test_bad_segment_in_json(tmp_path, segment, problem):
    path = _gt(tmp_path, [{"segment": [0.0, 1.0], "label": "Jump"}, {"segment": segment, "label": "Jump"}])
    msg = _error(load_annotations, path)
    assert str(path) in msg and "video 'v1', annotation 1" in msg and problem in msg


def test_unknown_class_when_the_class_list_is_fixed(tmp_path):
    path = _gt(tmp_path, [{"segment": [0, 1], "label": "Jump"}, {"segment": [2, 3], "label": "Swim"}])
    msg = _error(load_annotations, path, classes=["Jump"])
    assert str(path) in msg and "video 'v1', segment 1" in msg and "'Swim'" in msg
    # a class_list key in the file fixes the list too
    path2 = _gt(tmp_path, [{"segment": [2, 3], "label": "Swim"}], name="fixed.json", class_list=["Jump"])
    assert "'Swim'" in _error(load_annotations, path2)
    assert load_annotations(path, classes=["Jump", "Swim", "Run"]).classes == ["Jump", "Swim", "Run"]


def test_thumos_line_errors_name_file_and_line(tmp_path):
    (tmp_path / "Jump_test.txt").write_text("video_1  1.0 2.0\nvideo_2 3.5\n")
    msg = _error(load_annotations, tmp_path)
    assert "Jump_test.txt" in msg and "line 2" in msg and "expected 'video start end'" in msg
    (tmp_path / "Jump_test.txt").write_text("video_1  1.0 2.0\n\nvideo_2 3.5 x\n")
    msg = _error(load_annotations, tmp_path)
    assert "line 3" in msg and "'x'" in msg and "not a number" in msg
    (tmp_path / "Jump_test.txt").write_text("video_1\t9.0\t2.0\r\n")
    assert "ends before it starts" in _error(load_annotations, tmp_path)


def test_thumos_label_outside_detclasslist(tmp_path):
    (tmp_path / "Jump_test.txt").write_text("video_1 1.0 2.0\n")
    (tmp_path / "Swim_test.txt").write_text("video_1 3.0 4.0\n")
    (tmp_path / "detclasslist.txt").write_text("1 Jump\n")
    msg = _error(load_annotations, tmp_path)
    assert "Swim_test.txt line 1" in msg and "'Swim'" in msg


def test_csv_errors(tmp_path):
    path = tmp_path / "a.csv"
    path.write_text("video,label,start_s,end_s\nv1,Jump,1,2\nv1,Jump,4,three\n")
    msg = _error(load_annotations, path)
    assert str(path) in msg and "line 3" in msg and "'three'" in msg
    path.write_text("clip,what,from,to\nv1,Jump,1,2\n")
    assert "unknown CSV columns" in _error(load_annotations, path)
    gtad = tmp_path / "test_Annotation.csv"
    gtad.write_text("video,type,type_idx,start,end,startFrame,endFrame\nv1,Jump,1,5.0,1.0,150,30\n")
    assert "line 2" in _error(load_annotations, gtad)


def test_wtalc_errors(annotations_dir, tmp_path):
    src = annotations_dir / "thumos14reduced_wtalc"
    shutil.copytree(src, tmp_path / "w")
    os.chmod(tmp_path / "w", 0o755)
    for f in (tmp_path / "w").iterdir():
        os.chmod(f, 0o644)
    (tmp_path / "w" / "segments.npy").unlink()
    msg = _error(load_annotations, tmp_path / "w")
    assert "missing segments.npy" in msg
    shutil.copy(src / "segments.npy", tmp_path / "w" / "segments.npy")
    labels = np.load(src / "labels.npy", allow_pickle=True)
    labels[3] = ["Swimming"] + list(labels[3])[1:]
    np.save(tmp_path / "w" / "labels.npy", labels, allow_pickle=True)
    msg = _error(load_annotations, tmp_path / "w")
    assert "labels.npy" in msg and "segment 0" in msg and "'Swimming'" in msg
    segs = np.load(src / "segments.npy", allow_pickle=True)
    segs[5] = list(segs[5])[:-1]
    np.save(tmp_path / "w" / "segments.npy", segs, allow_pickle=True)
    np.save(tmp_path / "w" / "labels.npy", np.load(src / "labels.npy", allow_pickle=True), allow_pickle=True)
    msg = _error(load_annotations, tmp_path / "w")
    assert "video 5" in msg and "segments but" in msg


def test_elan_bad_xml(tmp_path):
    (tmp_path / "v1.eaf").write_text("<ANNOTATION_DOCUMENT><HEADER></ANNOTATION_DOCUMENT>")
    msg = _error(load_annotations, tmp_path)
    assert "v1.eaf" in msg and "not valid XML" in msg and "line 1" in msg


def test_missing_and_unknown_paths(tmp_path):
    assert "not found" in _error(load_annotations, tmp_path / "nope.json")
    (tmp_path / "notes.md").write_text("hello")
    assert "unknown annotation format" in _error(load_annotations, tmp_path / "notes.md")
    (tmp_path / "empty").mkdir()
    assert "no annotation files recognised" in _error(load_annotations, tmp_path / "empty")


def test_result_file_is_read_as_predictions_not_ground_truth(tmp_path):
    preds = {"v1": [Segment("Jump", 1.25, 3.5, 0.9), Segment("Swim", 4.0, 4.5, 0.25)], "v2": []}
    path = save_predictions(preds, tmp_path / "pred.json", version="test-1")
    doc = json.loads(path.read_text())
    assert doc["version"] == "test-1" and doc["external_data"] == {}
    assert doc["results"]["v1"][0] == {"label": "Jump", "score": 0.9, "segment": [1.25, 3.5]}
    back = load_predictions(path)
    assert [(s.label, s.start, s.end, s.score) for s in back["v1"]] == \
           [("Jump", 1.25, 3.5, 0.9), ("Swim", 4.0, 4.5, 0.25)] and back["v2"] == []
    assert "result (prediction) file" in _error(load_annotations, path)
    doc["results"]["v1"][1]["score"] = "high"
    path.write_text(json.dumps(doc))
    msg = _error(load_predictions, path)
    assert "video 'v1', prediction 1" in msg and "'high'" in msg
    gt = _gt(tmp_path, [])
    assert "not an ActivityNet result file" in _error(load_predictions, gt)


def _small_set(duration=10.0):
    return AnnotationSet({"v1": VideoAnnotation("v1", "test", duration, [Segment("Jump", 1.0, 2.0)])},
                         ["Jump"])


def test_wtalc_export_without_duration_writes_nothing(tmp_path):
    msg = _error(save_annotations, _small_set(duration=None), tmp_path / "out", "wtalc")
    assert "video 'v1'" in msg and "has no duration" in msg
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").iterdir())


def test_export_label_outside_class_list_writes_nothing(tmp_path):
    aset = _small_set()
    aset.videos["v1"].segments.append(Segment("Swim", 3.0, 4.0))
    for fmt in ("thumos14", "wtalc", "csv"):
        assert "'Swim'" in _error(save_annotations, aset, tmp_path / fmt, fmt)
        assert not (tmp_path / fmt).exists()


def test_unknown_export_format(tmp_path):
    assert "unknown export format" in _error(save_annotations, _small_set(), tmp_path / "x", "pdf")


@pytest.mark.skipif(hasattr(os, "geteuid") and os.geteuid() == 0, reason="root ignores permissions")
def test_export_into_read_only_folder_keeps_the_old_file(tmp_path):
    target = tmp_path / "gt.csv"
    save_annotations(_small_set(), target, "csv")
    before = target.read_bytes()
    aset = _small_set()
    aset.videos["v1"].segments.append(Segment("Jump", 5.0, 6.0))
    os.chmod(tmp_path, 0o555)
    try:
        msg = _error(save_annotations, aset, target, "csv")
    finally:
        os.chmod(tmp_path, 0o755)
    assert "not writable" in msg and target.read_bytes() == before


def test_export_to_an_impossible_place_is_a_user_error(tmp_path):
    blocker = tmp_path / "file.txt"
    blocker.write_text("keep me")
    for fmt, name in (("csv", "a.csv"), ("thumos14", "th"), ("elan", "el"), ("activitynet", "gt.json")):
        msg = _error(save_annotations, _small_set(), blocker / name, fmt)
        assert "could not write" in msg and str(blocker) in msg
    assert blocker.read_text() == "keep me"
