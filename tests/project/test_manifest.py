"""Training manifests: a frozen copy of the reviewed work, independent of later edits."""

from __future__ import annotations

import pytest

from sdanet_gui.errors import UserError
from sdanet_gui.project.commands import (AcceptPredictions, AddSegment, ConfirmSegments,
                                         MoveBoundary, SetReviewState)
from sdanet_gui.project.manifest import Manifest, freeze_manifest


def test_only_human_work_and_reviewed_spans_go_into_the_manifest(project, tmp_path):
    a = project.video("clip_a")
    segs = project.segments(a.id)
    ConfirmSegments([segs[0].id]).apply(project)
    MoveBoundary(segs[1].id, "end", 200).apply(project)
    added = AddSegment(a.id, "LongJump", 400, 420)
    added.apply(project)
    accept = AcceptPredictions([project.predicted_segments(a.id)[0].id])
    accept.apply(project)
    SetReviewState(a.id, "partial", 300).apply(project)

    m = freeze_manifest(project)
    assert [v.name for v in m.videos] == ["clip_a"], "clip_b has nothing reviewed or confirmed"
    v = m.videos[0]
    assert sorted(s.provenance for s in v.segments) == ["accepted-prediction", "added",
                                                       "confirmed", "edited"]
    assert all(s.provenance != "imported" for s in v.segments)
    assert v.reviewed_spans == [[0, 300]] and v.reviewed_spans_s == [[0.0, 12.0]]
    assert (v.clock, v.fps, v.frame_count) == ("decoded", 25.0, 500)
    confirmed = next(s for s in v.segments if s.provenance == "confirmed")
    assert (confirmed.start_s, confirmed.end_s) == (1.0, 3.0)
    assert m.classes == ["Diving", "HighJump", "LongJump"]
    assert m.is_current(project)

    path = m.write(tmp_path / "manifest.json")
    again = Manifest.read(path)
    assert again == m

    # editing goes on while training runs: the frozen manifest does not change, but knows it
    MoveBoundary(added.changes[0].key, "end", 430).apply(project)
    assert not m.is_current(project)
    assert Manifest.read(path) == m


def test_trusted_imported_ground_truth_counts_as_reviewed(project):
    m = freeze_manifest(project, ["clip_b"], trust_imported=True)
    (v,) = m.videos
    assert [s.provenance for s in v.segments] == ["imported", "imported"]
    assert v.reviewed_spans == [[0, 12500]] and v.clock == "provisional"
    assert v.reviewed_spans_s == [[0.0, 12.5]]


def test_done_means_the_whole_video_and_chosen_videos_are_kept_even_if_empty(project):
    b = project.video("clip_b")
    SetReviewState(b.id, "done").apply(project)
    m = freeze_manifest(project, [project.video("clip_a").id, b.id])
    spans = {v.name: v.reviewed_spans for v in m.videos}
    assert spans == {"clip_a": [], "clip_b": [[0, 12500]]}


def test_a_broken_manifest_file_is_one_clear_error(tmp_path):
    bad = tmp_path / "m.json"
    bad.write_text('{"format": "something else"}')
    with pytest.raises(UserError, match="not a readable training manifest"):
        Manifest.read(bad)
    with pytest.raises(UserError, match="cannot read"):
        Manifest.read(tmp_path / "missing.json")
