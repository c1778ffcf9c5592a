"""Property-based: any sequence of edits, undone in reverse, restores the database exactly.

Hypothesis draws each next command from the project's current state (existing segment ids,
frames around and beyond the video's ends, known and unknown classes), so many drawn edits are
invalid: those must raise UserError and change nothing. After every step the invariants hold;
undoing everything walks back through exactly the recorded states, and redoing walks forward
through them again.
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sdanet_gui.errors import UserError
from sdanet_gui.project import commands as C
from sdanet_gui.project.schema import PROVENANCES

LABELS = ["Diving", "HighJump", "LongJump", "Unknown"]


def draw_command(data, project, videos):
    v = data.draw(st.sampled_from(videos), label="video")
    limit = project.frame_limit(v.id)
    segs = project.segments(v.id)
    ids = [s.id for s in segs] + [10_000]
    segs_frames = [f for s in segs for f in (s.start_frame, s.end_frame)]
    near = st.sampled_from(segs_frames).flatmap(lambda f: st.integers(f - 5, f + 5)) if segs_frames \
        else st.integers(0, 10)
    frame = st.one_of(st.integers(-3, limit + 3), near)   # near existing boundaries: collisions
    kind = data.draw(st.sampled_from(["add", "delete", "boundary", "move", "split", "merge",
                                      "relabel", "confirm", "accept", "range", "review"]),
                     label="kind")
    sid = data.draw(st.sampled_from(ids), label="segment")
    if kind == "add":
        return C.AddSegment(v.id, data.draw(st.sampled_from(LABELS)), data.draw(frame),
                            data.draw(frame))
    if kind == "delete":
        return C.DeleteSegments([sid])
    if kind == "boundary":
        return C.MoveBoundary(sid, data.draw(st.sampled_from(["start", "end"])), data.draw(frame))
    if kind == "move":
        return C.MoveSegment(sid, data.draw(st.integers(-40, 40)))
    if kind == "split":
        return C.SplitSegment(sid, data.draw(frame))
    if kind == "merge":
        return C.MergeWithNeighbour(sid, data.draw(st.sampled_from(["next", "previous"])))
    if kind == "relabel":
        return C.Relabel([sid], data.draw(st.sampled_from(LABELS)))
    if kind == "confirm":
        return C.ConfirmSegments([sid])
    if kind == "accept":
        preds = [p.id for p in project.predicted_segments(v.id)]
        return C.AcceptPredictions([data.draw(st.sampled_from(preds))])
    if kind == "range":
        a, b = sorted((data.draw(frame), data.draw(frame)))
        return C.ConfirmRange(v.id, a, b, model_version_id=project.model_versions()[0].id)
    state = data.draw(st.sampled_from(["unreviewed", "partial", "done"]))
    return C.SetReviewState(v.id, state, data.draw(frame) if state == "partial" else None)


def check_invariants(project):
    for v in project.videos():
        limit = project.frame_limit(v.id)
        for s in project.segments(v.id):
            assert 0 <= s.start_frame < s.end_frame, s
            assert limit is None or s.end_frame <= limit, s
            assert s.provenance in PROVENANCES
            if s.provenance == "accepted-prediction":
                assert s.source_prediction_id is not None
        r = project.review_state(v.id)
        if r.state == "partial":
            assert limit is None or 0 < r.reviewed_to <= limit


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                 HealthCheck.too_slow])
@given(data=st.data())
def test_random_edits_undo_and_redo_exactly(make_project, data, undo_path):
    # Memory-backed folder when there is one: this test is about exact undo, not about fsync
    # (durability is test_durability's job), and hundreds of fsyncs would dominate its time.
    shm = Path("/dev/shm")
    folder = Path(tempfile.mkdtemp(prefix="sdanet-prop-", dir=shm if shm.is_dir() else None))
    project = make_project(folder / "p")
    try:
        # a decoded 500-frame video and a provisional (millisecond) one
        videos = [project.video("clip_a"), project.video("clip_b")]
        history = undo_path(project)
        states = [project.dump_human_tables()]
        for _ in range(data.draw(st.integers(1, 20), label="steps")):
            before = project.dump_human_tables()
            try:
                cmd = draw_command(data, project, videos)
                depth = len(history)
                history.push(cmd)
            except UserError:
                assert project.dump_human_tables() == before, "a refused edit changed the project"
                continue
            check_invariants(project)
            now = project.dump_human_tables()
            if len(history) == depth:      # merged into the step on top
                states[-1] = now
            elif len(history) < depth:     # merged and obsolete
                states.pop()
            else:
                states.append(now)
        assert len(states) == len(history) + 1
        for expected in reversed(states[:-1]):
            history.undo()
            assert project.dump_human_tables() == expected
        assert not history.can_undo
        for expected in states[1:]:
            history.redo()
            assert project.dump_human_tables() == expected
            check_invariants(project)
    finally:
        project.close()
        shutil.rmtree(folder, ignore_errors=True)
