"""Fixtures for the project store tests: real SQLite projects in temporary folders."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from sdanet_gui.project.store import Project

REPO = Path(__file__).resolve().parents[2]
CLASSES = ["Diving", "HighJump", "LongJump"]


def make_project(folder: Path) -> Project:
    """A project with three classes, a decoded 25 fps video of 500 frames, a provisional one
    known from an annotation file (12.5 s), and one model version with predictions."""
    p = Project.create(folder, author="tester")
    p.add_classes(CLASSES)
    a = p.add_video("clip_a", subset="validation", fps=25.0, frame_count=500)
    b = p.add_video("clip_b", subset="test", duration=12.5)
    p.add_imported_segments(a.id, [("Diving", 1.0, 3.0), ("HighJump", 5.0, 7.5),
                                   ("Diving", 10.0, 12.0)])
    p.add_imported_segments(b.id, [("LongJump", 0.25, 1.5), ("LongJump", 4.0, 6.75)])
    mv = p.add_model_version("demo", metrics={"mAP@0.5": 0.3})
    p.add_predictions(mv.id, a.id, [("Diving", 20, 80, 0.9), ("LongJump", 300, 360, 0.6),
                                    ("HighJump", 400, 450, 0.2)])
    p.add_predictions(mv.id, b.id, [("LongJump", 8000, 9000, 0.7)])
    return p


@pytest.fixture
def project(tmp_path):
    p = make_project(tmp_path / "proj")
    yield p
    p.close()


def run_child(code: str, *args: str, timeout: float = 60, **kw) -> subprocess.CompletedProcess:
    """Run Python code in a fresh interpreter with the repository importable."""
    env = dict(os.environ, PYTHONPATH=str(REPO))
    return subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True,
                          timeout=timeout, env=env, **kw)


@pytest.fixture(name="make_project")
def _make_project_fixture():
    return make_project


@pytest.fixture(name="run_child")
def _run_child_fixture():
    return run_child


class UndoPath:
    """The review window's undo path without its widgets: the real QUndoStack and the editor's
    `push_edit` / ProjectUndoCommand adapter (ui/review/editing.py), so these tests cover the
    stack users undo on. A refused edit (which the window reports in its status bar) is raised
    here, after the stack has handled it as the window's would."""

    def __init__(self, project):
        from PySide6.QtGui import QUndoStack

        self.project = project
        self.stack = QUndoStack()
        self.refused: list[Exception] = []

    def _run(self, fn) -> bool:
        from sdanet_gui.errors import UserError

        try:
            fn()
            return True
        except UserError as exc:
            self.refused.append(exc)
            return False

    def _raise_refusal(self, before: int) -> None:
        if len(self.refused) > before:
            raise self.refused[-1]

    def push(self, command):
        from sdanet_gui.ui.review.editing import push_edit

        before = len(self.refused)
        push_edit(self.stack, command, self.project, self._run, lambda: None)
        self._raise_refusal(before)
        return command

    def undo(self) -> None:
        before = len(self.refused)
        self.stack.undo()
        self._raise_refusal(before)

    def redo(self) -> None:
        before = len(self.refused)
        self.stack.redo()
        self._raise_refusal(before)

    def __len__(self) -> int:
        return self.stack.index()   # steps that can be undone

    @property
    def can_undo(self) -> bool:
        return self.stack.canUndo()

    @property
    def can_redo(self) -> bool:
        return self.stack.canRedo()

    @property
    def undo_text(self) -> str:
        return self.stack.undoText()


@pytest.fixture
def undo_path():
    return UndoPath
