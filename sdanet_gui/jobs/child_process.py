"""Policies shared by the GUI's compute child processes (fine-tuning, scoring).

Why it exists: the fine-tuning child (`finetune_job`) and the scoring child (`score_job`) both
run torch in a spawned process next to the window; how many CPU threads such a child may use
and how its unexpected end is described must be decided in one place, not twice.
Qt-free and torch-free: it is imported by the window at start-up.
"""

from __future__ import annotations

import os
import signal


def child_threads() -> int:
    """CPU threads for a compute child: all cores but one, which stays with the window.

    Not torch's default (every core): with the UI thread, the scorer and other programs
    competing, OpenMP's spinning worker threads starve each other (measured on a loaded 2-core
    machine: 15 s per fine-tuning step with 2 threads, 0.15 s with 1). On CUDA the GPU does the
    work."""
    return max(1, (os.cpu_count() or 2) - 1)


CHILD_NICENESS = 10   # CPU priority given up by a compute child (POSIX nice; 0..19 = lower)


def lower_priority(niceness: int = CHILD_NICENESS) -> None:
    """Call in a compute child: let the window's threads win the CPU when both want it.

    Why: on a machine with few cores the child's busy thread and the UI thread (plus the video
    reader) compete for the same cores, and an equal share makes the UI thread wait for a core
    (event-loop gaps over 50 ms whose UI-thread CPU time was under 30 ms). Best effort: a no-op
    where `os.nice` does not exist (Windows) or is refused."""
    try:
        os.nice(niceness)
    except (AttributeError, OSError):
        pass


def exit_description(exitcode: int | None) -> str:
    """A child's `Process.exitcode` in words: "signal 9, SIGKILL", "exit code 1", "no exit code"."""
    if exitcode is None:
        return "no exit code"
    if exitcode < 0:
        try:
            name = signal.Signals(-exitcode).name
        except ValueError:
            name = "unknown signal"
        return f"signal {-exitcode}, {name}"
    return f"exit code {exitcode}"
