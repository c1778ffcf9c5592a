"""The project folder and its store: creation, reopening, clocks, provenance, review state."""

from __future__ import annotations

import sqlite3

import numpy as np
import pytest

from sdanet_gui.errors import UserError
from sdanet_gui.project import schema
from sdanet_gui.project.store import Project


def test_a_new_project_is_a_folder_with_a_wal_database_and_its_subfolders(tmp_path):
    with Project.create(tmp_path / "p") as p:
        assert (tmp_path / "p" / "project.sqlite").is_file()
        for sub in ("cache", "checkpoints", "exports"):
            assert (tmp_path / "p" / sub).is_dir()
        assert p.conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert p.conn.execute("PRAGMA foreign_keys").fetchone()[0] == 1
        assert schema.schema_version(p.conn) == schema.SCHEMA_VERSION
    with pytest.raises(UserError, match="already exists"):
        Project.create(tmp_path / "p")
    with pytest.raises(UserError, match="not a project folder"):
        Project.open(tmp_path / "elsewhere")


def test_a_database_from_a_newer_program_is_refused_not_downgraded(tmp_path):
    Project.create(tmp_path / "p").close()
    conn = sqlite3.connect(tmp_path / "p" / "project.sqlite")
    conn.execute(f"PRAGMA user_version = {schema.SCHEMA_VERSION + 1}")
    conn.close()
    with pytest.raises(UserError, match="newer version"):
        Project.open(tmp_path / "p")
    # the lock was released on the failed open: a later open gets the same clear message
    with pytest.raises(UserError, match="newer version"):
        Project.open(tmp_path / "p")


def test_a_garbage_file_gives_a_clear_message(tmp_path):
    (tmp_path / "p").mkdir()
    (tmp_path / "p" / "project.sqlite").write_bytes(b"this is not sqlite" * 100)
    with pytest.raises(UserError, match="project.sqlite"):
        Project.open(tmp_path / "p")


def test_everything_survives_closing_and_reopening(project, tmp_path):
    before = project.dump_human_tables()
    videos = project.videos()
    project.set_setting("postprocess", {"nms": 0.4, "min_score": 0.1})
    project.close()
    with Project.open(tmp_path / "proj") as again:
        assert again.dump_human_tables() == before
        assert again.videos() == videos
        assert again.get_setting("postprocess") == {"nms": 0.4, "min_score": 0.1}
        assert again.classes() == ["Diving", "HighJump", "LongJump"]
        assert [m.name for m in again.model_versions()] == ["demo"]
        assert len(again.predicted_segments("clip_a")) == 3


def test_imported_segments_have_provenance_and_keep_the_files_seconds(project):
    segs = project.segments("clip_a")
    assert [s.provenance for s in segs] == ["imported"] * 3
    # decoded 25 fps clock: 1.0 s -> frame 25, 3.0 s -> frame 75
    assert (segs[0].start_frame, segs[0].end_frame) == (25, 75)
    assert project.segment_seconds(segs[0]) == (1.0, 3.0)
    # provisional millisecond clock for a video known only from its annotation
    b = project.video("clip_b")
    assert b.clock_kind == "provisional" and b.frame_count == 12500
    seg = project.segments("clip_b")[0]
    assert (seg.start_frame, seg.end_frame) == (250, 1500)


def test_paths_inside_the_project_are_stored_relative(tmp_path):
    with Project.create(tmp_path / "p") as p:
        inside = p.add_video("a", path=tmp_path / "p" / "media" / "a.mp4", fps=30, frame_count=30)
        outside = p.add_video("b", path=tmp_path / "b.mp4", fps=30, frame_count=30)
        assert inside.path == "media/a.mp4"
        assert outside.path == str(tmp_path / "b.mp4")
        assert p.video_path("a") == tmp_path / "p" / "media" / "a.mp4"


def test_variable_frame_rate_clock_comes_from_stored_timestamps(tmp_path):
    ts = np.array([0.0, 0.033, 0.066, 0.133, 0.166])  # one long frame: variable rate
    with Project.create(tmp_path / "p") as p:
        p.add_classes(["A"])
        v = p.add_video("vfr", fps=30, timestamps=ts, duration=0.2)
        assert v.has_timestamps and v.frame_count == 5
        clock = p.clock(v.id)
        assert clock.frame_to_seconds(3) == pytest.approx(0.133)
        assert p.seconds_to_frames(v.id, 0.066, 0.2) == (2, 5)
        assert p.frames_to_seconds(v.id, 3, 5) == (pytest.approx(0.133), pytest.approx(0.2))


def test_locating_a_video_maps_provisional_frames_onto_the_decoder_clock(project):
    b = project.video("clip_b")
    seg_ids = [s.id for s in project.segments(b.id)]
    project.locate_video(b.id, project.folder / "clip_b.mp4", fps=25.0, frame_count=313,
                         fingerprint="abc")
    located = project.video(b.id)
    assert located.clock_kind == "decoded" and located.path == "clip_b.mp4"
    segs = project.segments(b.id)
    assert [s.id for s in segs] == seg_ids
    assert [(s.start_frame, s.end_frame) for s in segs] == [(6, 37), (100, 169)]  # 37.5 ties to the earlier boundary
    # imported seconds survive, so an export still returns the file's values
    assert project.segment_seconds(segs[0]) == (0.25, 1.5)
    pred = project.predicted_segments(b.id)[0]
    assert (pred.start_frame, pred.end_frame) == (200, 225)
    assert project.edit_log(1)[0].action == "locate"


def test_a_video_of_unknown_length_accepts_segments_anywhere_after_zero(tmp_path):
    with Project.create(tmp_path / "p") as p:
        p.add_classes(["A"])
        v = p.add_video("no_duration")  # e.g. a THUMOS txt line: no duration known
        assert p.frame_limit(v.id) is None
        (sid,) = p.add_imported_segments(v.id, [("A", 100.25, 250.5)])
        seg = p.segment(sid)
        assert (seg.start_frame, seg.end_frame) == (100250, 250500)
        assert p.frames_to_seconds(v.id, 100250, 300000) == (100.25, 300.0)


def test_read_only_open_sees_the_data_and_refuses_edits(project, tmp_path):
    with Project.open(tmp_path / "proj", read_only=True) as ro:
        assert ro.dump_human_tables() == project.dump_human_tables()
        with pytest.raises(UserError, match="read-only"):
            ro.set_setting("x", 1)


def test_the_state_fingerprint_changes_with_review_work_only(project):
    from sdanet_gui.project.commands import AddSegment

    fp = project.state_fingerprint()
    project.set_setting("window", {"w": 800})
    assert project.state_fingerprint() == fp
    AddSegment(project.video("clip_a").id, "Diving", 0, 10).apply(project)
    assert project.state_fingerprint() != fp


def test_replacing_predictions_keeps_only_those_a_human_segment_was_accepted_from(project):
    """A post-processing re-run swaps a model version's predictions of one video at once, but
    the prediction a segment was accepted from survives, so that accept can still be undone."""
    from sdanet_gui.project.commands import AcceptPredictions

    video = project.videos()[0]
    label = project.classes()[0]
    mv = project.add_model_version("m", checkpoint="m.pt").id
    project.add_predictions(mv, video.id, [(label, 0, 10, 0.9), (label, 20, 30, 0.5)])
    accepted, dropped = sorted(project.predicted_segments(video.id, mv), key=lambda p: p.start_frame)
    accept = AcceptPredictions([accepted.id])
    accept.apply(project)
    project.add_predictions(mv, video.id, [(label, 40, 50, 0.7)], replace=True)
    left = {p.id: (p.start_frame, p.end_frame) for p in project.predicted_segments(video.id, mv)}
    assert accepted.id in left and dropped.id not in left
    assert sorted(left.values()) == [(0, 10), (40, 50)]
    accept.undo(project)
    assert not project.segments(video.id) or all(s.source_prediction_id != accepted.id
                                                 for s in project.segments(video.id))


def test_a_version_1_file_is_upgraded_in_place_and_its_classes_count_as_there_from_the_start(tmp_path):
    """Schema 2 records when a class was created (fine-tuning masks a class for videos reviewed
    before it existed); an older project's classes keep NULL = from the start."""
    folder = tmp_path / "old"
    folder.mkdir()
    conn = sqlite3.connect(folder / "project.sqlite")
    for statement in schema.statements(schema.MIGRATIONS[0]):
        conn.execute(statement)
    conn.execute("INSERT INTO classes(name, position) VALUES ('Diving', 0)")
    conn.execute("PRAGMA user_version = 1")
    conn.commit()
    conn.close()
    with Project.open(folder) as p:
        assert schema.schema_version(p.conn) == schema.SCHEMA_VERSION == 2
        assert p.class_created() == {"Diving": None}
        p.add_classes(["HighJump"])
        created = p.class_created()["HighJump"]
        assert created is not None and created.endswith("+00:00")
        assert p.classes() == ["Diving", "HighJump"]
    # the default lane of a new project goes once a model brings its classes, but never a used class
    with Project.create(tmp_path / "new") as p:
        p.add_classes(["action"])
        assert p.remove_unused_class("action") and p.classes() == []
        p.add_classes(["jump"])
        v = p.add_video("v", duration=10.0)
        p.add_imported_segments(v.id, [("jump", 1.0, 2.0)])
        assert not p.remove_unused_class("jump") and p.classes() == ["jump"]


def test_a_video_known_only_from_a_file_without_times_takes_the_extent_of_its_features(tmp_path):
    with Project.create(tmp_path / "p") as p:
        p.add_classes(["jump"])
        v = p.add_video("v")                                   # e.g. from a THUMOS txt file
        p.add_imported_segments(v.id, [("jump", 1.0, 14.0)])
        assert p.frame_limit(v.id) is None
        assert p.bound_duration(v.id, 12.8)                      # features of 20 snippets
        assert p.frame_limit(v.id) == 14000                      # never shorter than its segments
        assert p.video(v.id).duration == pytest.approx(14.0)
        assert not p.bound_duration(v.id, 30.0)                  # known now: left alone
        w = p.add_video("w", fps=25.0, frame_count=250, duration=10.0)
        assert not p.bound_duration(w.id, 20.0) and p.frame_limit(w.id) == 250
