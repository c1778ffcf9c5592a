"""Edit commands as a reviewer uses them: each edit does, undoes and redoes exactly."""

from __future__ import annotations

import pytest

from sdanet_gui.errors import UserError
from sdanet_gui.project.commands import (AcceptPredictions, AddSegment, ConfirmRange,
                                         ConfirmSegments, DeleteSegments, MergeWithNeighbour,
                                         MoveBoundary, MoveSegment, Relabel, SetReviewState,
                                         SplitSegment)


def frames(project, video="clip_a"):
    return [(s.label, s.start_frame, s.end_frame, s.provenance) for s in project.segments(video)]


def test_drag_the_end_of_the_first_segment_two_frames_right_then_undo(project, undo_path):
    h = undo_path(project)
    first = project.segments("clip_a")[0]
    before = project.dump_human_tables()
    h.push(MoveBoundary(first.id, "end", first.end_frame + 1))
    h.push(MoveBoundary(first.id, "end", first.end_frame + 2))   # the same drag goes on
    assert len(h) == 1, "consecutive drags of one boundary are one undo step"
    seg = project.segment(first.id)
    assert seg.end_frame == first.end_frame + 2 and seg.provenance == "edited"
    assert seg.import_end_s is None and seg.import_start_s == 1.0
    assert h.undo_text == "Move end of Diving 00:00:01.000–00:00:03.000 to 00:00:03.080"  # in words
    h.undo()
    assert project.dump_human_tables() == before
    assert not h.can_undo and h.can_redo
    h.redo()
    assert project.segment(first.id).end_frame == first.end_frame + 2


def test_a_drag_back_to_where_it_started_is_one_step_that_undo_reverts_to_imported(project, undo_path):
    h = undo_path(project)
    first = project.segments("clip_a")[0]
    h.push(MoveBoundary(first.id, "start", first.start_frame + 3))
    h.push(MoveBoundary(first.id, "start", first.start_frame))
    assert len(h) == 1 and project.segment(first.id).provenance == "edited"
    h.undo()
    assert project.segment(first.id) == first


def test_dragging_two_different_boundaries_gives_two_steps(project, undo_path):
    h = undo_path(project)
    first = project.segments("clip_a")[0]
    h.push(MoveBoundary(first.id, "start", first.start_frame + 1))
    h.push(MoveBoundary(first.id, "end", first.end_frame + 1))
    h.push(MoveSegment(first.id, 5))
    h.push(MoveSegment(first.id, -2))
    assert len(h) == 3
    assert project.segment(first.id).start_frame == first.start_frame + 4


def test_invalid_edits_raise_and_change_nothing(project, undo_path):
    h = undo_path(project)
    a = project.video("clip_a")
    segs = project.segments(a.id)
    before = project.dump_human_tables()
    log_before = project.edit_log()
    bad = [AddSegment(a.id, "Diving", 10, 10),                 # zero length
           AddSegment(a.id, "Diving", -1, 10),                 # before the video
           AddSegment(a.id, "Diving", 490, 501),               # after its 500 frames
           AddSegment(a.id, "Swimming", 0, 10),                # unknown class
           MoveBoundary(segs[0].id, "end", segs[0].start_frame),
           MoveBoundary(segs[0].id, "start", segs[0].end_frame + 3),
           MoveSegment(segs[2].id, 500),
           SplitSegment(segs[0].id, segs[0].start_frame),
           MergeWithNeighbour(segs[1].id, "next"),             # no other HighJump
           Relabel([segs[0].id], "Swimming"),
           DeleteSegments([99999]),
           SetReviewState(a.id, "partial", 501)]
    for cmd in bad:
        with pytest.raises(UserError):
            h.push(cmd)
    assert project.dump_human_tables() == before
    assert project.edit_log() == log_before
    assert len(h) == 0


def test_split_then_merge_then_relabel_keeps_provenance_and_source(project, undo_path):
    h = undo_path(project)
    first = project.segments("clip_a")[0]          # Diving [25, 75) imported
    cmd = h.push(SplitSegment(first.id, 50))
    new_id = cmd.changes[1].key
    assert cmd.touched.segments == {first.id, new_id}
    assert cmd.touched.videos == {first.video_id}
    left, right = project.segment(first.id), project.segment(new_id)
    assert (left.start_frame, left.end_frame, right.start_frame, right.end_frame) == (25, 50, 50, 75)
    assert left.provenance == right.provenance == "edited"
    assert right.source_segment_id == first.id
    # the untouched outer boundaries still export the file's seconds
    assert project.segment_seconds(left)[0] == 1.0 and project.segment_seconds(right)[1] == 3.0
    h.push(MergeWithNeighbour(first.id, "next"))
    merged = project.segment(first.id)
    assert (merged.start_frame, merged.end_frame) == (25, 75)
    assert project.segment_seconds(merged) == (1.0, 3.0)
    h.push(Relabel([first.id], "LongJump"))
    assert project.segment(first.id).label == "LongJump"
    for _ in range(3):
        h.undo()
    assert frames(project)[0] == ("Diving", 25, 75, "imported")


def test_merge_with_previous_and_next_neighbour_of_the_same_class(project, undo_path):
    h = undo_path(project)
    segs = project.segments("clip_a")              # Diving [25,75), HighJump, Diving [250,300)
    h.push(MergeWithNeighbour(segs[2].id, "previous"))
    assert frames(project) == [("Diving", 25, 300, "edited"), ("HighJump", 125, 187, "imported")]
    h.undo()
    h.push(MergeWithNeighbour(segs[0].id, "next"))
    assert [s.id for s in project.segments("clip_a")] == [segs[0].id, segs[1].id]


def test_confirm_and_accept_predictions(project, undo_path):
    h = undo_path(project)
    a = project.video("clip_a")
    first = project.segments(a.id)[0]
    h.push(ConfirmSegments([first.id]))
    assert project.segment(first.id).provenance == "confirmed"
    pred = project.predicted_segments(a.id)[0]
    cmd = h.push(AcceptPredictions([pred.id]))
    accepted = project.segment(cmd.changes[0].key)
    assert accepted.provenance == "accepted-prediction"
    assert accepted.source_prediction_id == pred.id
    assert (accepted.label, accepted.start_frame, accepted.end_frame) == ("Diving", 20, 80)
    again = h.push(AcceptPredictions([pred.id]))    # already accepted: nothing new
    assert again.is_obsolete()
    # editing an accepted segment makes it 'edited' but keeps where it came from
    h.push(MoveBoundary(accepted.id, "end", 90))
    edited = project.segment(accepted.id)
    assert edited.provenance == "edited" and edited.source_prediction_id == pred.id


def test_confirm_all_in_a_range(project, undo_path):
    h = undo_path(project)
    a = project.video("clip_a")
    mv = project.model_versions()[0]
    cmd = h.push(ConfirmRange(a.id, 0, 320, model_version_id=mv.id, min_score=0.5))
    provs = [s.provenance for s in project.segments(a.id)]
    # the two Diving/HighJump imported ones and Diving [250,300) lie inside; the 0.6 LongJump
    # prediction [300, 360) sticks out; the Diving prediction [20, 80) is accepted
    assert provs.count("confirmed") == 3
    assert provs.count("accepted-prediction") == 1
    assert len(cmd.touched.segments) == 4
    h.undo()
    assert {s.provenance for s in project.segments(a.id)} == {"imported"}


def test_review_state_up_to_a_frame_then_done_then_undo(project, undo_path):
    h = undo_path(project)
    a = project.video("clip_a")
    h.push(SetReviewState(a.id, "partial", 200))
    assert project.reviewed_span(a.id) == (0, 200)
    h.push(SetReviewState(a.id, "done"))
    assert project.reviewed_span(a.id) == (0, 500)
    h.undo()
    assert project.review_state(a.id).reviewed_to == 200
    h.undo()
    assert project.review_state(a.id).state == "unreviewed"
    assert project.reviewed_span(a.id) is None


def test_each_edit_is_in_the_edit_log_and_delete_undo_restores_the_same_row(project, undo_path):
    h = undo_path(project)
    seg = project.segments("clip_a")[1]
    cmd = h.push(DeleteSegments([seg.id]))
    entry = project.edit_log(1)[0]
    assert entry.id == cmd.last_edit_id and entry.action == "do" and entry.videos == [seg.video_id]
    h.undo()
    assert project.segment(seg.id) == seg
    assert project.edit_log(1)[0].action == "undo"


def test_redo_after_an_outside_change_is_refused_not_misapplied(project, undo_path):
    h = undo_path(project)
    seg = project.segments("clip_a")[0]
    h.push(MoveBoundary(seg.id, "end", 80))
    h.undo()
    MoveSegment(seg.id, 1).apply(project)          # another edit path, outside this history
    moved = project.dump_human_tables()
    with pytest.raises(UserError, match="changed elsewhere"):
        h.redo()
    assert project.dump_human_tables() == moved    # nothing misapplied
    assert not h.can_redo                          # the stale step left the history
