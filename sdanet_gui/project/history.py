"""A Qt-free undo/redo stack of edit commands, with QUndoStack's rules.

Used by the CLI, scripts and tests; the GUI uses QUndoStack through a thin adapter with the same
behaviour: `push` applies the command, then tries to merge it into the command on top (same
`id()` != -1 and `merge_with` accepts); pushing drops everything that could be redone; a merged
step that changed nothing in total is dropped (QUndoCommand.isObsolete).

The stack lives in memory only: after a restart the edits are all still in the project (each
was committed when made), there is just nothing to undo. Never imports Qt.
"""

from __future__ import annotations

from .commands import EditCommand
from .store import Project


class History:
    def __init__(self, project: Project, limit: int = 0):
        self.project = project
        self.limit = limit  # 0: unlimited
        self._done: list[EditCommand] = []
        self._undone: list[EditCommand] = []

    def push(self, command: EditCommand) -> EditCommand:
        """Apply `command` (raises UserError and changes nothing if invalid) and record it.

        Returns the command that now holds the step (the top one if it merged).
        """
        command.apply(self.project)
        self._undone.clear()
        top = self._done[-1] if self._done else None
        if top is not None and command.id() != -1 and top.id() == command.id() \
                and top.merge_with(command):
            if top.is_obsolete():
                self._done.pop()
            return top
        self._done.append(command)
        if self.limit and len(self._done) > self.limit:
            del self._done[0]
        return command

    def undo(self) -> EditCommand | None:
        if not self._done:
            return None
        command = self._done[-1]
        command.undo(self.project)  # raises before popping: a failed undo stays undoable
        self._undone.append(self._done.pop())
        return command

    def redo(self) -> EditCommand | None:
        if not self._undone:
            return None
        command = self._undone[-1]
        command.apply(self.project)
        self._done.append(self._undone.pop())
        return command

    def clear(self) -> None:
        self._done.clear()
        self._undone.clear()

    @property
    def can_undo(self) -> bool:
        return bool(self._done)

    @property
    def can_redo(self) -> bool:
        return bool(self._undone)

    @property
    def undo_text(self) -> str:
        return self._done[-1].text if self._done else ""

    @property
    def redo_text(self) -> str:
        return self._undone[-1].text if self._undone else ""

    def __len__(self) -> int:
        return len(self._done)
