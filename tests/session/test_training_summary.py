"""What a run trains on, said before it starts (session/training_summary.py), from a real
project's frozen manifest: predictions accepted in bulk alone are self-training and warned
about; segments a person drew or moved are not."""

from __future__ import annotations

import pytest

from sdanet_gui.project.commands import AcceptPredictions, AddSegment, MoveBoundary, SetReviewState
from sdanet_gui.project.manifest import freeze_manifest
from sdanet_gui.project.store import Project
from sdanet_gui.session.training_summary import summarize_material


@pytest.fixture
def project(tmp_path):
    p = Project.create(tmp_path / "p")
    p.add_classes(["Flash", "Slide"])
    for name in ("a", "b"):
        p.add_video(name, fps=25.0, frame_count=250, duration=10.0, feature_ref=f"{name}.h5")
    mv = p.add_model_version("demo")
    p.add_predictions(mv.id, "a", [("Flash", 25, 75, 0.9), ("Slide", 100, 150, 0.8)])
    p.add_predictions(mv.id, "b", [("Flash", 0, 50, 0.7)])
    p.model_id = mv.id
    yield p
    p.close()


def test_accepting_predictions_alone_is_self_training_and_said_so(project):
    for name in ("a", "b"):
        ids = [s.id for s in project.predicted_segments(name, project.model_id)]
        AcceptPredictions(ids).apply(project)     # Shift+Enter: everything in view, unchanged
    SetReviewState(project.video("a").id, "done").apply(project)
    s = summarize_material(freeze_manifest(project))
    assert s.self_training and s.videos == 2 and s.fully_reviewed == 1
    assert {k: (m.human_edited, m.confirmed, m.accepted) for k, m in s.per_class.items()} == \
        {"Flash": (0, 0, 2), "Slide": (0, 0, 1)}
    assert s.background_s == pytest.approx(10.0 - 2.0 - 2.0)   # video a: reviewed, minus its segments
    assert "All 3 segments are predictions accepted as they were" in s.warning()
    assert s.lines()[0] == "Flash: 0 drawn or edited, 0 confirmed, 2 accepted predictions"


def test_segments_a_person_drew_or_moved_are_what_it_learns_from(project):
    a = project.video("a").id
    (pred, *_) = project.predicted_segments("a", project.model_id)
    AcceptPredictions([pred.id]).apply(project)
    accepted = project.segments(a)[0]
    MoveBoundary(accepted.id, "end", accepted.end_frame + 10).apply(project)   # now "edited"
    AddSegment(a, "Slide", 160, 200).apply(project)
    s = summarize_material(freeze_manifest(project))
    assert not s.self_training and not s.mostly_accepted and s.warning() == ""
    assert (s.per_class["Flash"].human_edited, s.per_class["Slide"].human_edited) == (1, 1)
    d = s.to_dict()
    assert d["self_training"] is False and d["per_class"]["Slide"] == {"human_edited": 1, "confirmed": 0,
                                                                      "accepted": 0}
