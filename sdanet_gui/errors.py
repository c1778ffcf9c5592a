"""The one exception type that carries a message meant for the user.

Anything the user can cause (a bad file, a wrong flag, a checkpoint for other classes) is raised
as `UserError` with a sentence that names the file and the problem. The CLI prints it on one line
and exits non-zero; the GUI shows it in a dialog. Any other exception is a bug: it is logged with
its traceback and shown to the user as "internal error" plus the log path, never as a traceback.
"""

from __future__ import annotations

import os


class UserError(Exception):
    """A problem the user can fix; `str(err)` is the whole message they see."""

    def __init__(self, message: str, *, path: str | os.PathLike | None = None):
        self.path = os.fspath(path) if path is not None else None
        if self.path and self.path not in message:
            message = f"{self.path}: {message}"
        super().__init__(message)


class Cancelled(Exception):
    """Raised inside long jobs when their cooperative cancel flag was set."""
