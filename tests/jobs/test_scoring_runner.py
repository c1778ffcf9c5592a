"""Scoring runs in a child process (jobs.score_job) behind jobs.scoring.ScoringRunner, Qt-free:
the child is reused between runs, and its death, bad input and cancel each end a run cleanly.
Real child, real bundled demo checkpoint and features; the owner's thread is this test's,
running posted calls from a CallQueue as the window's event loop would."""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

import numpy as np
import pytest

from sdanet_gui.bundled import model_files, resource_files
from tests.processes import alive as _alive
from sdanet_gui.jobs.background import CallQueue
from sdanet_gui.jobs.scoring import ScoringRunner

from ..ui.conftest import write_wrong_features

FEATURES = Path(str(resource_files() / "demo" / "features"))
DEMO_FEATURES = {p.stem: p for p in sorted(FEATURES.glob("*.h5"))}


@pytest.fixture(scope="module")
def demo_checkpoint():
    return Path(str(model_files() / "demo.pt"))


class Run:
    """What one run reported; `on_first()` is called when the first video arrives."""

    def __init__(self, on_first=None):
        self.results, self.progress, self.errors, self.finished = [], [], [], 0
        self.on_first = on_first

    def scored(self, result):
        self.results.append(result)
        if len(self.results) == 1 and self.on_first is not None:
            self.on_first()


class Harness:
    """One ScoringRunner (and so one scoring child) whose reports go to the current Run."""

    def __init__(self):
        self.calls = CallQueue()
        self.run = Run()
        self.runner = ScoringRunner(
            self.calls, on_result=lambda r: self.run.scored(r),
            on_progress=lambda d, t: self.run.progress.append((d, t)),
            on_failed=lambda m: self.run.errors.append(m), on_finished=self._finished)

    def _finished(self):
        self.run.finished += 1

    @property
    def pid(self):
        return self.runner.pid


@pytest.fixture(scope="module")
def worker():
    h = Harness()
    yield h
    pid = h.pid
    h.runner.shutdown()
    assert pid is None or not _alive(pid)


def _score(worker, checkpoint, features, on_first=None, timeout=60.0) -> Run:
    run = worker.run = Run(on_first)
    worker.runner.start(checkpoint, features)
    assert worker.calls.run_until(lambda: run.finished == 1, timeout)
    worker.calls.run_pending(0.05)  # nothing may follow "finished"
    assert run.finished == 1 and not worker.runner.busy()
    return run


def _many(n: int) -> dict:
    """n videos (the demo's three feature files under n names): a run long enough to interrupt."""
    files = list(DEMO_FEATURES.values())
    return {f"video_{i:03d}": files[i % len(files)] for i in range(n)}


def test_a_second_run_reuses_the_child_and_matches_in_process_scoring(worker, demo_checkpoint):
    from sdanet_gui.jobs.score_job import run_scoring

    t0 = time.perf_counter()
    first = _score(worker, demo_checkpoint, DEMO_FEATURES)
    t_first = time.perf_counter() - t0
    pid = worker.pid
    assert pid is not None and _alive(pid) and pid != os.getpid()
    t0 = time.perf_counter()
    second = _score(worker, demo_checkpoint, DEMO_FEATURES)
    t_second = time.perf_counter() - t0
    assert worker.pid == pid                      # the same child, no second spawn + torch import
    assert t_second < t_first, (t_first, t_second)
    for run in (first, second):
        assert not run.errors and run.progress == [(1, 3), (2, 3), (3, 3)]
        assert [r.name for r in run.results] == ["demo_1", "demo_2", "demo_3"]
    # the child's results equal the engine run in this process (the protocol loses nothing)
    expected = []
    run_scoring(demo_checkpoint, DEMO_FEATURES, expected.append, lambda: False)
    expected = [m for m in expected if m["type"] == "result"]
    for got, want in zip(second.results, expected):
        np.testing.assert_allclose(got.cas, want["cas"], rtol=1e-5, atol=1e-5)
        np.testing.assert_allclose(got.attention, want["attention"], rtol=1e-5, atol=1e-5)
        assert got.cas.shape == (got.attention.shape[0], len(got.classes) + 1)
        assert got.spec.to_dict() == want["spec"] and got.params.to_dict() == want["params"]
        assert [(s.label, round(s.start, 4), round(s.end, 4)) for s in got.segments] == \
            [(s.label, round(s.start, 4), round(s.end, 4)) for s in want["segments"]]
        assert got.segments and got.model_name == "demo" and got.checkpoint == str(demo_checkpoint)
        mod = got.modality_attention
        assert mod is None or mod.shape == (got.attention.shape[0], len(got.spec.modalities))


def test_wrong_shaped_features_give_the_message_naming_the_file(worker, demo_checkpoint, tmp_path):
    wrong = write_wrong_features(tmp_path / "wrong_video.h5")
    run = _score(worker, demo_checkpoint, {"demo_1": DEMO_FEATURES["demo_1"], "wrong_video": wrong})
    assert [r.name for r in run.results] == ["demo_1"]          # sorted: demo_1 came first
    assert len(run.errors) == 1
    assert run.errors[0].startswith(f"{wrong}: features have shape (20, 64)")
    assert "demo.pt expects [T, 256]" in run.errors[0]
    assert worker.pid is not None and _alive(worker.pid)        # bad input does not end the child


def test_cancel_stops_between_videos(worker, demo_checkpoint):
    features = _many(300)
    run = _score(worker, demo_checkpoint, features, on_first=worker.runner.cancel)
    assert not run.errors
    assert 1 <= len(run.results) < len(features)
    assert run.progress[-1][0] == len(run.results) and run.progress[-1][1] == len(features)
    again = _score(worker, demo_checkpoint, DEMO_FEATURES)  # a cancel does not stick
    assert len(again.results) == 3 and not again.errors


def test_a_killed_child_fails_the_run_clearly_and_the_next_run_spawns_a_new_one(worker, demo_checkpoint):
    _score(worker, demo_checkpoint, DEMO_FEATURES)
    pid = worker.pid
    features = _many(300)
    run = _score(worker, demo_checkpoint, features, on_first=lambda: os.kill(pid, signal.SIGKILL))
    assert 1 <= len(run.results) < len(features)
    assert len(run.errors) == 1
    message = run.errors[0]
    assert "demo.pt" in message
    assert "the scoring process stopped unexpectedly (signal 9, SIGKILL)" in message
    assert worker.pid is None and not _alive(pid)
    after = _score(worker, demo_checkpoint, DEMO_FEATURES)
    assert not after.errors and len(after.results) == 3
    assert worker.pid is not None and worker.pid != pid and _alive(worker.pid)


def test_shutdown_during_a_run_kills_the_child_quietly_and_a_later_run_starts_a_new_one(worker, demo_checkpoint):
    _score(worker, demo_checkpoint, DEMO_FEATURES)
    pid = worker.pid
    run = _score(worker, demo_checkpoint, _many(300), on_first=worker.runner.shutdown)
    assert not run.errors                       # closing is not a failure to report
    assert 1 <= len(run.results) < 300
    assert worker.pid is None and not _alive(pid)
    after = _score(worker, demo_checkpoint, DEMO_FEATURES)
    assert not after.errors and len(after.results) == 3 and worker.pid not in (None, pid)
