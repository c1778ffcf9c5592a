"""Scoring runs in a child process (project.score_job) behind ScoringWorker: the window's process
never imports torch for it, the child is reused between runs, and its death, bad input and
cancel each end a run cleanly. Real child, real bundled demo checkpoint and features."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest

from sdanet_gui.bundled import model_files, resource_files

from .conftest import write_wrong_features

FEATURES = Path(str(resource_files() / "demo" / "features"))
DEMO_FEATURES = {p.stem: p for p in sorted(FEATURES.glob("*.h5"))}


@pytest.fixture(scope="module")
def demo_checkpoint():
    return Path(str(model_files() / "demo.pt"))


class Run:
    """What one ScoringWorker run emitted; `on_first()` is called when the first video arrives."""

    def __init__(self, worker, on_first=None):
        self.results, self.progress, self.errors, self.finished = [], [], [], 0
        self.on_first = on_first
        self.worker = worker
        self._conns = [(worker.scored, worker.scored.connect(self._scored)),
                       (worker.progress, worker.progress.connect(lambda d, t: self.progress.append((d, t)))),
                       (worker.failed, worker.failed.connect(self.errors.append)),
                       (worker.finished, worker.finished.connect(self._finish))]

    def _scored(self, result):
        self.results.append(result)
        if len(self.results) == 1 and self.on_first is not None:
            self.on_first()

    def _finish(self):
        self.finished += 1

    def disconnect(self):
        for sig, conn in self._conns:
            sig.disconnect(conn)


@pytest.fixture(scope="module")
def worker(qapp):
    """One ScoringWorker (and so one scoring child) shared by this module's tests."""
    from sdanet_gui.ui.scoring import ScoringWorker

    w = ScoringWorker()
    yield w
    pid = w.pid
    w.shutdown()
    assert pid is None or not _alive(pid)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def _score(qtbot, worker, checkpoint, features, on_first=None, timeout=60000) -> Run:
    run = Run(worker, on_first)
    worker.start(checkpoint, features)
    qtbot.waitUntil(lambda: run.finished == 1, timeout=timeout)
    qtbot.wait(50)  # nothing may follow "finished"
    run.disconnect()
    assert run.finished == 1 and not worker.busy()
    return run


def _many(n: int) -> dict:
    """n videos (the demo's three feature files under n names): a run long enough to interrupt."""
    files = list(DEMO_FEATURES.values())
    return {f"video_{i:03d}": files[i % len(files)] for i in range(n)}


def test_the_window_process_never_imports_torch_and_the_child_ends_with_the_app(tmp_path, demo_checkpoint):
    script = textwrap.dedent(f"""
        import os, sys
        from pathlib import Path
        from PySide6.QtCore import QTimer
        from PySide6.QtWidgets import QApplication
        from sdanet_gui.ui.event_loop import process_until
        from sdanet_gui.ui.scoring import ScoringWorker

        app = QApplication([])
        w = ScoringWorker()
        results, errors, done = [], [], []
        w.scored.connect(results.append)
        w.failed.connect(errors.append)
        w.finished.connect(lambda: done.append(1))
        feats = Path({str(FEATURES)!r})
        w.start(Path({str(demo_checkpoint)!r}), {{p.stem: p for p in sorted(feats.glob("*.h5"))}})
        assert process_until(app, lambda: bool(done), 120), "scoring did not finish"
        assert not errors, errors
        assert sorted(r.name for r in results) == ["demo_1", "demo_2", "demo_3"]
        assert all(r.cas.shape[1] == len(r.classes) + 1 for r in results)
        pid = w.pid
        print("TORCH", "torch" in sys.modules, "CHILD", pid, flush=True)
        QTimer.singleShot(0, app.quit)
        app.exec()                      # aboutToQuit stops the child
        try:
            os.kill(pid, 0)
            print("CHILD_AFTER_QUIT alive", flush=True)
        except ProcessLookupError:
            print("CHILD_AFTER_QUIT gone", flush=True)
    """)
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen"}
    out = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True,
                         timeout=180, cwd=tmp_path)
    assert out.returncode == 0, out.stderr[-3000:]
    words = out.stdout.split()
    assert words[words.index("TORCH") + 1] == "False"   # scored, yet torch never loaded here
    pid = int(words[words.index("CHILD") + 1])
    assert pid != out.returncode and words[words.index("CHILD_AFTER_QUIT") + 1] == "gone"
    assert not _alive(pid)                               # no orphan after the app ended


def test_a_second_run_reuses_the_child_and_matches_in_process_scoring(qtbot, worker, demo_checkpoint):
    from sdanet_gui.project.score_job import run_scoring

    t0 = time.perf_counter()
    first = _score(qtbot, worker, demo_checkpoint, DEMO_FEATURES)
    t_first = time.perf_counter() - t0
    pid = worker.pid
    assert pid is not None and _alive(pid) and pid != os.getpid()
    t0 = time.perf_counter()
    second = _score(qtbot, worker, demo_checkpoint, DEMO_FEATURES)
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


def test_wrong_shaped_features_give_the_message_naming_the_file(qtbot, worker, demo_checkpoint, tmp_path):
    wrong = write_wrong_features(tmp_path / "wrong_video.h5")
    run = _score(qtbot, worker, demo_checkpoint, {"demo_1": DEMO_FEATURES["demo_1"], "wrong_video": wrong})
    assert [r.name for r in run.results] == ["demo_1"]          # sorted: demo_1 came first
    assert len(run.errors) == 1
    assert run.errors[0].startswith(f"{wrong}: features have shape (20, 64)")
    assert "demo.pt expects [T, 256]" in run.errors[0]
    assert worker.pid is not None and _alive(worker.pid)        # bad input does not end the child


def test_cancel_stops_between_videos(qtbot, worker, demo_checkpoint):
    features = _many(300)
    run = _score(qtbot, worker, demo_checkpoint, features, on_first=worker.cancel)
    assert not run.errors
    assert 1 <= len(run.results) < len(features)
    assert run.progress[-1][0] == len(run.results) and run.progress[-1][1] == len(features)
    again = _score(qtbot, worker, demo_checkpoint, DEMO_FEATURES)  # a cancel does not stick
    assert len(again.results) == 3 and not again.errors


def test_a_killed_child_fails_the_run_clearly_and_the_next_run_spawns_a_new_one(qtbot, worker, demo_checkpoint):
    _score(qtbot, worker, demo_checkpoint, DEMO_FEATURES)
    pid = worker.pid
    features = _many(300)
    run = _score(qtbot, worker, demo_checkpoint, features, on_first=lambda: os.kill(pid, signal.SIGKILL))
    assert 1 <= len(run.results) < len(features)
    assert len(run.errors) == 1
    message = run.errors[0]
    assert "demo.pt" in message
    assert "the scoring process stopped unexpectedly (signal 9, SIGKILL)" in message
    assert worker.pid is None and not _alive(pid)
    after = _score(qtbot, worker, demo_checkpoint, DEMO_FEATURES)
    assert not after.errors and len(after.results) == 3
    assert worker.pid is not None and worker.pid != pid and _alive(worker.pid)


def test_closing_the_window_stops_its_scoring_child(qtbot, window, demo_checkpoint, tmp_path, monkeypatch):
    errors = []
    monkeypatch.setattr("sdanet_gui.ui.main_window.show_error", lambda *a, **k: errors.append(a[2]))
    wrong = write_wrong_features(tmp_path / "demo_1.h5")
    window.score(demo_checkpoint, {"demo_1": wrong})
    qtbot.waitUntil(lambda: bool(errors) and not window._scoring.busy(), timeout=60000)
    pid = window._scoring.pid
    assert pid is not None and _alive(pid)
    window.close()
    assert not _alive(pid)


def test_shutdown_during_a_run_kills_the_child_quietly_and_a_later_run_starts_a_new_one(qtbot, worker, demo_checkpoint):
    _score(qtbot, worker, demo_checkpoint, DEMO_FEATURES)
    pid = worker.pid
    run = _score(qtbot, worker, demo_checkpoint, _many(300), on_first=worker.shutdown)
    assert not run.errors                       # closing is not a failure to report
    assert 1 <= len(run.results) < 300
    assert worker.pid is None and not _alive(pid)
    after = _score(qtbot, worker, demo_checkpoint, DEMO_FEATURES)
    assert not after.errors and len(after.results) == 3 and worker.pid not in (None, pid)
