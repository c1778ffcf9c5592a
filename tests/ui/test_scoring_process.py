"""The window's process never imports torch to score (the scoring child does, jobs/scoring.py),
and the scoring child ends with the window and with the application."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from sdanet_gui.bundled import model_files, resource_files
from tests.processes import alive as _alive

from .conftest import write_wrong_features

FEATURES = Path(str(resource_files() / "demo" / "features"))
REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def demo_checkpoint():
    return Path(str(model_files() / "demo.pt"))


def test_the_window_process_never_imports_torch_and_the_child_ends_with_the_app(tmp_path, demo_checkpoint):
    script = textwrap.dedent(f"""
        import os, sys
        from pathlib import Path
        from PySide6.QtCore import QTimer
        from PySide6.QtWidgets import QApplication
        from benchmarks.event_loop import process_until
        from sdanet_gui.ui.shell.main_window import MainWindow

        app = QApplication([])
        window = MainWindow()
        session = window.session
        errors, done = [], []
        session.events.problem.connect(lambda title, message: errors.append(message))
        session.events.scoring_finished.connect(lambda: done.append(1))
        files = sorted(Path({str(FEATURES)!r}).glob("*.h5"))
        session.attach_features(files)      # the three demo videos, known by their features
        session.score(Path({str(demo_checkpoint)!r}), {{p.stem: p for p in files}})
        assert process_until(app, lambda: bool(done), 120), "scoring did not finish"
        assert not errors, errors
        assert session.scored_videos() == ["demo_1", "demo_2", "demo_3"]
        results = [session.result(n) for n in session.scored_videos()]
        assert all(r.cas.shape[1] == len(r.classes) + 1 for r in results)
        pid = session.scoring_pid
        print("TORCH", "torch" in sys.modules, "CHILD", pid, flush=True)
        QTimer.singleShot(0, app.quit)
        app.exec()                      # aboutToQuit stops the child (the window was never closed)
        try:
            os.kill(pid, 0)
            print("CHILD_AFTER_QUIT alive", flush=True)
        except ProcessLookupError:
            print("CHILD_AFTER_QUIT gone", flush=True)
    """)
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen", "PYTHONPATH": str(REPO)}
    out = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True,
                         timeout=180, cwd=tmp_path)
    assert out.returncode == 0, out.stderr[-3000:]
    words = out.stdout.split()
    assert words[words.index("TORCH") + 1] == "False"   # scored, yet torch never loaded here
    pid = int(words[words.index("CHILD") + 1])
    assert pid != out.returncode and words[words.index("CHILD_AFTER_QUIT") + 1] == "gone"
    assert not _alive(pid)                               # no orphan after the app ended


def test_closing_the_window_stops_its_scoring_child(qtbot, window, demo_checkpoint, tmp_path, monkeypatch):
    errors = []
    monkeypatch.setattr("sdanet_gui.ui.shell.main_window.show_error", lambda *a, **k: errors.append(a[2]))
    wrong = write_wrong_features(tmp_path / "demo_1.h5")
    window.session.score(demo_checkpoint, {"demo_1": wrong})
    qtbot.waitUntil(lambda: bool(errors) and not window.session.scoring_busy(), timeout=60000)
    pid = window.session.scoring_pid
    assert pid is not None and _alive(pid)
    window.close()
    assert not _alive(pid)
