"""Small helpers for tests that watch child processes."""

from __future__ import annotations

import os


def alive(pid: int) -> bool:
    """Whether a process of this id exists (a zombie not yet reaped counts as alive)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True
