"""Import and export through a project with the real annotation files of tests/assets."""

from __future__ import annotations

import json
import shutil
from collections import Counter
from pathlib import Path

import pytest

from sdanet_gui.data.annotations import load_annotations
from sdanet_gui.errors import UserError
from sdanet_gui.project.commands import MoveBoundary, SetReviewState
from sdanet_gui.project.exchange import export_annotations, import_annotations, video_file_status
from sdanet_gui.project.store import Project

OUT_NAME = {"activitynet": "out.json", "csv": "out.csv"}


def same_segments(original, exported, tol=0.01):
    """Every video of `original` is in `exported` with the same segments (labels, +-tol s)."""
    problems = []
    for name, va in original.videos.items():
        vb = exported.videos.get(name)
        if vb is None:
            if va.segments:
                problems.append(f"{name}: missing")
            continue
        a = sorted((s.label, s.start, s.end) for s in va.segments)
        b = sorted((s.label, s.start, s.end) for s in vb.segments)
        if len(a) != len(b):
            problems.append(f"{name}: {len(a)} segments became {len(b)}")
            continue
        for x, y in zip(a, b):
            if x[0] != y[0] or abs(x[1] - y[1]) > tol or abs(x[2] - y[2]) > tol:
                problems.append(f"{name}: {x} became {y}")
        amb_a, amb_b = sorted(va.ambiguous), sorted(vb.ambiguous)
        if len(amb_a) != len(amb_b) or any(abs(p - q) > tol for x, y in zip(amb_a, amb_b)
                                           for p, q in zip(x, y)):
            problems.append(f"{name}: ambiguous {amb_a} became {amb_b}")
    return problems


REAL_FILES = [
    ("activitynet13_subset_mmaction2/gt.json", "activitynet"),
    ("thumos14_cmcs/test", "thumos14"),
    ("thumos14_cmcs/val", "thumos14"),
    ("thumos14_gtad/test_Annotation.csv", "csv"),
    ("thumos14_gtad/thumos_gt.json", "activitynet"),
    ("thumos14reduced_wtalc", "wtalc"),
]


@pytest.mark.parametrize("relpath,fmt", REAL_FILES, ids=[r[0] for r in REAL_FILES])
def test_real_files_import_and_export_back_without_losing_or_shifting_a_segment(
        shared_data, tmp_path, relpath, fmt):
    src = shared_data / "annotations" / relpath
    original = load_annotations(src)
    with Project.create(tmp_path / "p") as project:
        report = import_annotations(project, src)
        assert report.segments == sum(len(v.segments) for v in original.videos.values())
        assert {s.provenance for s in project.segments()} == {"imported"}
        out = export_annotations(project, fmt, tmp_path / OUT_NAME.get(fmt, "out"))
    exported = load_annotations(out)
    assert same_segments(original, exported) == []
    assert set(exported.videos) >= {n for n, v in original.videos.items() if v.segments}


@pytest.fixture(scope="module")
def wtalc_project(shared_data, tmp_path_factory):
    """The W-TALC THUMOS14-reduced annotations imported once, for the export tests."""
    src = shared_data / "annotations" / "thumos14reduced_wtalc"
    folder = tmp_path_factory.mktemp("wtalc") / "p"
    with Project.create(folder) as project:
        import_annotations(project, src)
    return folder, load_annotations(src)


@pytest.mark.parametrize("fmt", ["activitynet", "thumos14", "csv", "elan", "wtalc"])
def test_one_project_exports_to_every_format_and_each_reads_back(wtalc_project, tmp_path, fmt):
    folder, original = wtalc_project
    names = list(original.videos)[::10]               # every tenth video keeps the test quick
    original.videos = {n: original.videos[n] for n in names}
    with Project.open(folder, read_only=True) as project:
        out = export_annotations(project, fmt, tmp_path / OUT_NAME.get(fmt, "out"),
                                 video_names=names)
    exported = load_annotations(out)
    assert sorted(exported.videos) == sorted(names)
    assert same_segments(original, exported) == []


def test_importing_the_same_file_twice_adds_nothing_twice(shared_data, tmp_path):
    src = shared_data / "annotations" / "activitynet13_subset_mmaction2" / "gt.json"
    with Project.create(tmp_path / "p") as project:
        import_annotations(project, src)
        first = project.dump_human_tables()
        again = import_annotations(project, src)
        assert again.segments == 0 and again.skipped_duplicates == 4
        assert project.dump_human_tables() == first


def test_exact_duplicate_instances_of_a_file_are_all_kept(tmp_path):
    """ActivityNet 1.2 ground truth repeats instances (13 identical "Snatch" spans in one video):
    each counts in the mAP, so the import keeps them all and the export gives them all back; a
    second import of the file still adds nothing."""
    from collections import Counter

    snatch = [{"segment": [12.5, 20.25], "label": "Snatch"}] * 13
    src = write_json(tmp_path / "an12.json", gt({
        "v_snatch": {"subset": "validation", "duration": 60.0,
                     "annotations": snatch + [{"segment": [30.0, 40.0], "label": "Snatch"}]},
        "v_other": {"subset": "validation", "duration": 50.0,
                    "annotations": [{"segment": [1.0, 2.0], "label": "Jump"}] * 2}}))
    with Project.create(tmp_path / "p") as project:
        report = import_annotations(project, src)
        assert report.segments == 16 and report.skipped_duplicates == 0
        out = export_annotations(project, "activitynet", tmp_path / "back.json")
        assert Counter((s.label, s.start, s.end) for v in load_annotations(out).videos.values()
                       for s in v.segments) == Counter(
            (s.label, s.start, s.end) for v in load_annotations(src).videos.values() for s in v.segments)
        again = import_annotations(project, src)
        assert again.segments == 0 and again.skipped_duplicates == 16
        assert len(project.segments("v_snatch")) == 14


def write_json(path: Path, data) -> Path:
    path.write_text(json.dumps(data))
    return path


def gt(videos):
    return {"database": videos}


MALFORMED = {
    "bad_json": ("{\"database\": {", "out.json"),
    "end_before_start": (gt({"v1": {"subset": "validation", "duration": 10.0, "annotations": [
        {"segment": [1.0, 2.0], "label": "A"}, {"segment": [5.0, 4.0], "label": "A"}]}}), "v1"),
    "not_a_number": (gt({"v1": {"subset": "validation", "duration": 10.0, "annotations": [
        {"segment": ["1.0", "soon"], "label": "A"}]}}), "v1"),
}


@pytest.mark.parametrize("case", sorted(MALFORMED))
def test_a_malformed_file_is_one_clear_message_and_nothing_is_imported(project, tmp_path, case):
    content, entry = MALFORMED[case]
    path = tmp_path / f"{case}.json"
    path.write_text(content if isinstance(content, str) else json.dumps(content))
    before = (project.dump_human_tables(), project.videos(), project.classes())
    try:
        import_annotations(project, path)
    except UserError as exc:
        message = str(exc)
    else:
        raise AssertionError("no error")
    assert str(path) in message and "\n" not in message
    if case != "bad_json":
        assert entry in message
    assert (project.dump_human_tables(), project.videos(), project.classes()) == before


def test_an_unknown_class_is_refused_when_the_class_list_is_fixed(project, tmp_path):
    project.set_setting("classes_fixed", True)
    path = write_json(tmp_path / "gt.json", gt({"v9": {"subset": "test", "duration": 9.0,
                                                       "annotations": [
        {"segment": [1.0, 2.0], "label": "Diving"}, {"segment": [3.0, 4.0], "label": "Sailing"}]}}))
    before = project.dump_human_tables()
    with pytest.raises(UserError, match="Sailing"):
        import_annotations(project, path)
    assert project.dump_human_tables() == before and project.find_video("v9") is None


def test_a_problem_half_way_through_an_import_rolls_everything_back(project, tmp_path):
    """The segments are written before the video folder is searched; a broken video file found
    there must undo the whole import, not leave the segments behind."""
    videos = tmp_path / "videos"
    videos.mkdir()
    (videos / "v7.mp4").write_bytes(b"\x00not a video" * 1000)
    path = write_json(tmp_path / "gt.json", gt({"v7": {"subset": "test", "duration": 9.0,
                                                       "annotations": [
        {"segment": [1.0, 2.0], "label": "Diving"}]}}))
    before = (project.dump_human_tables(), project.videos())
    with pytest.raises(UserError, match="v7.mp4"):
        import_annotations(project, path, videos_dir=videos)
    assert (project.dump_human_tables(), project.videos()) == before


def test_videos_are_located_by_name_and_get_their_decoder_clock(shared_data, tmp_path):
    videos = tmp_path / "videos"
    videos.mkdir()
    shutil.copy(shared_data / "videos" / "mmaction2__test.avi", videos / "makeup.avi")
    shutil.copy(shared_data / "videos" / "mmaction2__rawvideo_part_0.mp4", videos / "pool.mp4")
    path = write_json(tmp_path / "gt.json", gt({
        "makeup": {"subset": "test", "duration": 6.56, "annotations": [
            {"segment": [1.0, 2.5], "label": "ApplyEyeMakeup"}]},
        "pool": {"subset": "test", "duration": 1.067, "annotations": [
            {"segment": [0.1, 0.9], "label": "Cleaning"}]}}))
    with Project.create(tmp_path / "p") as project:
        report = import_annotations(project, path, videos_dir=videos)
        assert sorted(report.located) == ["makeup", "pool"]
        makeup = project.video("makeup")
        assert (makeup.clock_kind, makeup.frame_count, makeup.fps) == ("decoded", 164, 25.0)
        assert makeup.fingerprint and not makeup.has_timestamps
        assert project.video_path("makeup") == videos / "makeup.avi"
        seg = project.segments("makeup")[0]
        assert (seg.start_frame, seg.end_frame) == (25, 62)   # 62.5 ties to the earlier boundary
        pool = project.video("pool")
        assert pool.has_timestamps, "the clip with a 66.7 ms gap keeps its per-frame times"
        # an edit moves onto the decoder's frames; the untouched boundary keeps the file's time
        MoveBoundary(seg.id, "end", 70).apply(project)
        out = export_annotations(project, "csv", tmp_path / "out.csv")
        # a moved or replaced file is noticed, not misread
        assert video_file_status(project, "makeup") == "ok"
        shutil.copy(shared_data / "videos" / "moviepy__chaplin.mp4", videos / "makeup.avi")
        assert video_file_status(project, "makeup") == "changed"
        (videos / "pool.mp4").unlink()
        assert video_file_status(project, "pool") == "missing"
    rows = {s.label: s for v in load_annotations(out).videos.values() for s in v.segments}
    assert rows["ApplyEyeMakeup"].start == 1.0 and rows["ApplyEyeMakeup"].end == pytest.approx(2.8)
    assert rows["Cleaning"].start == 0.1 and rows["Cleaning"].end == 0.9


def test_predictions_from_a_result_file_become_an_imported_model_version(project, tmp_path):
    path = write_json(tmp_path / "results.json", {"version": "VERSION 1.3", "external_data": {},
                                                 "results": {"clip_a": [
        {"label": "Diving", "score": 0.8, "segment": [2.0, 4.0]},
        {"label": "Swimming", "score": 0.4, "segment": [6.0, 30.0]}]}})
    report = import_annotations(project, path)
    assert report.predictions == 2
    mv = project.model_version(report.model_version_id)
    assert mv.name == "imported"
    preds = project.predicted_segments("clip_a", mv.id)
    assert [(p.label, p.start_frame, p.end_frame, p.score) for p in preds] == [
        ("Diving", 50, 100, 0.8), ("Swimming", 150, 500, 0.4)]   # clipped to the video's end
    assert "Swimming" in project.classes()


def test_export_only_reviewed_material(project, tmp_path):
    a, b = project.video("clip_a"), project.video("clip_b")
    SetReviewState(a.id, "partial", 200).apply(project)      # covers the first two segments
    out = export_annotations(project, "csv", tmp_path / "out.csv", only_reviewed=True)
    exported = load_annotations(out)
    assert list(exported.videos) == ["clip_a"]
    assert len(exported.videos["clip_a"].segments) == 2
    SetReviewState(b.id, "done").apply(project)
    exported = load_annotations(export_annotations(project, "csv", tmp_path / "out.csv",
                                                   only_reviewed=True))
    assert sorted(exported.videos) == ["clip_a", "clip_b"]
    assert Counter(s.meta.get("review_state") for s in exported.videos["clip_b"].segments) \
        == Counter({"done": 2})


def test_an_unreviewed_video_without_segments_is_not_written_as_empty_unless_asked(project, tmp_path):
    empty = project.add_video("nobody_looked", fps=25.0, frame_count=100)
    done = project.add_video("nothing_happens", fps=25.0, frame_count=100)
    SetReviewState(done.id, "done").apply(project)     # reviewed, and truly no action in it
    names = set(load_annotations(export_annotations(project, "activitynet", tmp_path / "a.json")).videos)
    assert "nobody_looked" not in names                 # an empty list would read as "no action"
    assert {"nothing_happens", "clip_a", "clip_b"} <= names
    asked = load_annotations(export_annotations(project, "activitynet", tmp_path / "b.json",
                                                include_empty_unreviewed=True))
    assert "nobody_looked" in asked.videos and asked.videos["nobody_looked"].segments == []
    assert empty.id != done.id


def test_an_export_into_an_unwritable_place_keeps_the_old_file_and_the_project(project, tmp_path):
    out = tmp_path / "out.csv"
    export_annotations(project, "csv", out)
    old = out.read_bytes()
    before = project.dump_human_tables()
    with pytest.raises(UserError):
        export_annotations(project, "csv", out / "x.csv")   # a file where a folder should be
    assert out.read_bytes() == old and project.dump_human_tables() == before
