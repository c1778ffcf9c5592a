"""The review session without any window: the same calls the window makes (session.ReviewSession),
driven from a plain thread whose posted calls run from a CallQueue. Real parts: a project in tmp
holding the three bundled demo videos (known by their real feature files), the bundled demo
checkpoint scored in the real scoring child, the score cache on disk, the fine-tuning job run
in this process for a few real steps."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from sdanet_gui.bundled import model_files, resource_files
from sdanet_gui.jobs.background import CallQueue
from sdanet_gui.project.store import Project
from sdanet_gui.session.review_session import ReviewSession

DEMO = Path(str(resource_files() / "demo"))
NAMES = ["demo_1", "demo_2", "demo_3"]


class Recorder:
    """Every event of a session, in order: (name, args)."""

    def __init__(self, session: ReviewSession):
        self.seen: list[tuple[str, tuple]] = []
        for name in vars(session.events):
            getattr(session.events, name).connect(lambda *a, name=name: self.seen.append((name, a)))

    def names(self) -> list[str]:
        return [n for n, _ in self.seen]

    def of(self, name: str) -> list[tuple]:
        return [a for n, a in self.seen if n == name]


@pytest.fixture
def checkpoint(tmp_path):
    return Path(shutil.copy(Path(str(model_files() / "demo.pt")), tmp_path / "demo.pt"))


@pytest.fixture
def calls():
    return CallQueue()


@pytest.fixture
def session(calls, tmp_path):
    s = ReviewSession(calls)
    s.set_project(Project.create(tmp_path / "proj"))
    yield s
    s.close()


def attach_demo(session: ReviewSession) -> None:
    names, added, problems = session.attach_features(sorted((DEMO / "features").glob("*.h5")))
    assert (names, added, problems) == (NAMES, 3, [])


def scored(session, calls, timeout=120.0) -> None:
    assert calls.run_until(lambda: not session.scoring_pending(), timeout), "scoring did not end"


def test_a_checkpoint_scores_the_videos_and_becomes_the_active_version(session, calls, checkpoint):
    attach_demo(session)
    seen = Recorder(session)
    mv = session.load_checkpoint(checkpoint)
    assert session.active.id == mv.id and session.project.active_model_version().id == mv.id
    assert session.scoring_videos() == NAMES and session.scoring_runs == 1
    scored(session, calls)
    assert session.scored_videos() == NAMES
    for name in NAMES:
        result = session.result(name)
        assert result.cas.shape == (result.attention.shape[0], len(result.classes) + 1)
        assert session.project.predicted_segments(name, mv.id)
    # what the views were told: each video's scores, the summary of the switch, the end of the run
    assert sorted(a[0] for a in seen.of("predictions_changed") if a[0]) == NAMES
    assert seen.names().index("scoring_finished") > max(
        i for i, n in enumerate(seen.names()) if n == "predictions_changed")
    assert session.change_summary.new_name == mv.name and session.change_summary.previous_name is None
    assert any("predicted segments in 3 videos" in a[0] for a in seen.of("status"))


def test_reopening_takes_the_scores_from_the_cache_without_scoring(session, calls, checkpoint, tmp_path):
    attach_demo(session)
    mv = session.load_checkpoint(checkpoint)
    scored(session, calls)
    stored = {n: len(session.project.predicted_segments(n, mv.id)) for n in NAMES}
    session.close()

    again = ReviewSession(calls)
    again.set_project(Project.open(tmp_path / "proj"))
    try:
        assert again.active.id == mv.id and again.scored_videos() == NAMES
        assert again.scoring_runs == 0 and again.scoring_pid is None   # no child was started
        assert {n: len(again.project.predicted_segments(n, mv.id)) for n in NAMES} == stored
    finally:
        again.close()


def test_adopting_rescores_summarizes_and_going_back_uses_the_cache(session, calls, checkpoint):
    attach_demo(session)
    first = session.load_checkpoint(checkpoint)
    scored(session, calls)
    second = session.project.add_model_version("second", checkpoint=checkpoint, parent_id=first.id)
    session.adopt(second)
    assert session.active.id == second.id and session.previous.id == first.id
    scored(session, calls)
    assert session.scoring_runs == 2
    summary = session.change_summary
    assert (summary.new_name, summary.previous_name) == ("second", first.name)
    assert [v.video for v in summary.videos] == NAMES
    # the same checkpoint: the same predictions, so nothing changed in any video
    assert not any(v.any for v in summary.videos)

    session.adopt(first)   # rollback: cached scores, no third run
    assert session.scoring_runs == 2 and not session.scoring_pending()
    assert session.active.id == first.id and session.previous.id == second.id
    assert session.change_summary.new_name == first.name and session.scored_videos() == NAMES


def test_a_checkpoint_that_cannot_score_leaves_the_previous_version_active(session, calls, checkpoint, tmp_path):
    attach_demo(session)
    good = session.load_checkpoint(checkpoint)
    scored(session, calls)
    junk = tmp_path / "junk.pt"
    junk.write_bytes(b"not a checkpoint")
    seen = Recorder(session)
    bad = session.project.add_model_version("junk", checkpoint=junk)
    session.adopt(bad)
    scored(session, calls)
    assert seen.of("problem") and "junk.pt" in seen.of("problem")[0][1]
    assert session.active.id == good.id and session.project.active_model_version().id == good.id
    assert session.scored_videos() == NAMES   # the good version's scores, back from the cache


def test_post_processing_relocalizes_one_video_from_its_cached_scores(session, calls, checkpoint, monkeypatch):
    from sdanet_gui.sdanet.localization import PostProcessing, localize_video

    attach_demo(session)
    mv = session.load_checkpoint(checkpoint)
    scored(session, calls)
    monkeypatch.setattr("sdanet_gui.sdanet.predict.score_features",
                        lambda *a, **k: pytest.fail("the network ran again"))
    result = session.result("demo_2")
    params = PostProcessing.from_dict({**result.params.to_dict(), "class_threshold": 0.0,
                                       "attention_thresholds": [0.3]})
    others = {n: session.project.predicted_segments(n, mv.id) for n in ("demo_1", "demo_3")}
    n = session.set_postprocess(params, "demo_2")
    assert session.project.get_setting("postprocess") == params.to_dict()
    expected = [s for s in localize_video(result.cas, result.attention, result.spec, result.classes, params)]
    assert n == len(session.project.predicted_segments("demo_2", mv.id)) and 0 < n <= len(expected)
    assert {k: session.project.predicted_segments(k, mv.id) for k in others} == others
    assert session.postprocess_params() == params
    assert session.set_postprocess(params, "not scored") is None


def test_finetuning_names_its_files_and_version_in_one_place_and_adopts_only_when_told(calls, checkpoint, tmp_path):
    from sdanet_gui.jobs.finetune_job import run_job
    from sdanet_gui.project.commands import AddSegment, SetReviewState
    from sdanet_gui.session.finetuning import FinetuneOptions

    session = ReviewSession(calls, scoring=False)   # as `sdanet finetune --project`: no re-scoring
    project = Project.create(tmp_path / "ft")
    session.set_project(project)
    attach_demo(session)
    ann = json.loads((DEMO / "annotations.json").read_text())
    project.add_classes(ann["class_list"])
    for name in NAMES:
        for a in ann["database"][name]["annotations"]:
            AddSegment(project.video(name).id, a["label"], *project.seconds_to_frames(name, *a["segment"])).apply(project)
        SetReviewState(project.video(name).id, "done").apply(project)
    base = project.add_model_version("demo", checkpoint=checkpoint)
    project.set_active_model_version(base.id)
    run = session.finetune
    plan = run.prepare(FinetuneOptions(steps=2, seed=1))
    out = Path(plan.request.out_checkpoint)
    assert out.parent == project.checkpoints_dir and out.name.startswith("finetune-") and not out.exists()
    assert Path(plan.request.manifest) == project.cache_dir / "manifests" / f"{out.stem}.json"
    assert plan.version_name == "demo ft1" and plan.base.id == base.id
    finished = []
    run.events.finished.connect(finished.append)

    run_job(plan.request, run.handle, _Never(), _Never())

    (outcome,) = finished
    assert outcome.kind == "done", outcome.message
    assert out.is_file() and outcome.new_version.name == "demo ft1"
    assert outcome.new_version.parent_id == base.id
    # three reviewed videos: one held out, too little to tell -> registered, not made active
    assert not outcome.adopted and "too little held out to tell" in outcome.message
    assert "on 1 held-out video" in outcome.decision.reason and "'demo' stays active" in outcome.message
    assert project.active_model_version().id == base.id
    assert outcome.new_version.metrics["classes"] == ann["class_list"]
    assert outcome.summary.steps_done == 2 and outcome.summary.train_videos
    assert outcome.summary.report.videos == 1 and outcome.summary.report.segments > 0
    # the user saw the numbers and uses it anyway; then goes back
    run.use_anyway()
    assert project.active_model_version().id == outcome.new_version.id == session.active.id
    assert session.previous.id == base.id
    run.rollback()
    assert project.active_model_version().id == base.id
    assert run.prepare(FinetuneOptions(steps=2)).version_name == "demo ft2"
    session.close()


class _Never:
    def is_set(self) -> bool:
        return False


def test_the_demo_scenario_confirm_one_video_then_fine_tune_leaves_the_model_in_use(calls, checkpoint, tmp_path):
    """Issue 14's first finding: predictions of one video accepted in bulk (Shift+Enter), that
    video reviewed part of the way, Fine-tune. The run is self-training and has nothing fully
    reviewed to hold out: it is said before it starts, and afterwards the model in use stays."""
    from sdanet_gui.jobs.finetune_job import run_job
    from sdanet_gui.project.commands import ConfirmRange, SetReviewState
    from sdanet_gui.session.finetuning import FinetuneOptions

    session = ReviewSession(calls, scoring=False)
    project = Project.create(tmp_path / "demo")
    session.set_project(project)
    attach_demo(session)
    ann = json.loads((DEMO / "annotations.json").read_text())
    project.add_classes(ann["class_list"])
    base = project.add_model_version("demo", checkpoint=checkpoint)
    project.set_active_model_version(base.id)
    rows = [(a["label"], *project.seconds_to_frames("demo_1", *a["segment"]), 0.8)
            for a in ann["database"]["demo_1"]["annotations"]]
    project.add_predictions(base.id, "demo_1", rows)
    video = project.video("demo_1")
    half = project.frame_limit(video.id) // 2
    ConfirmRange(video.id, 0, half, model_version_id=base.id).apply(project)   # what was in view
    SetReviewState(video.id, "partial", half).apply(project)
    run = session.finetune
    plan = run.prepare(FinetuneOptions(steps=2))
    assert plan.material.self_training and "self-training" in plan.material.warning()
    assert plan.material.fully_reviewed == 0
    finished = []
    run.events.finished.connect(finished.append)
    run_job(plan.request, run.handle, _Never(), _Never())
    (outcome,) = finished
    assert outcome.kind == "done" and not outcome.adopted, outcome.message
    assert "nothing was held out to measure it on" in outcome.message
    assert project.active_model_version().id == base.id
    assert outcome.summary.held_out == [] and outcome.summary.report.videos == 0
    session.close()


def test_untitled_projects_made_in_the_same_second_do_not_collide(calls, monkeypatch):
    """Two windows (or a quick relaunch) opening videos within one second each get a project:
    the second one used to fail with "a project already exists here"."""
    import datetime as dt

    from sdanet_gui.session import review_session

    class SameSecond(dt.datetime):
        @classmethod
        def now(cls, tz=None):
            return cls(2026, 1, 2, 12, 0, 0)

    monkeypatch.setattr(review_session, "datetime", SameSecond)
    sessions = [ReviewSession(calls) for _ in range(3)]
    try:
        folders = [s.ensure_project().folder.name for s in sessions]
    finally:
        for s in sessions:
            s.close()
    assert folders == ["Untitled 2026-01-02 120000", "Untitled 2026-01-02 120000 (2)",
                       "Untitled 2026-01-02 120000 (3)"]
