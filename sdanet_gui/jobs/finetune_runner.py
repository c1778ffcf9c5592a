"""One fine-tuning run in its child process, watched from a relay thread; its messages reach the
owner's thread through `post`.

Why it exists: training runs for minutes in a child (`finetune_job.start_job`, multiprocessing
'spawn', so torch and its threads never share the window's process). Someone has to start that
child (the spawn alone imports torch for seconds) and wait on its message pipe; doing it on the
UI thread would stall the window. `FinetuneRunner(post, on_message)`: `start(request)`,
`stop()`, `cancel()`, `kill()`, `busy()`, `wait(timeout)`, `pid`, `job`. Every message of the
job (see finetune_job.py: started, eval, progress, done | cancelled | failed) reaches
`on_message(msg)` on the owner's thread, then `on_finished()` once the relay has let go of the
child.

Progress messages are coalesced: the child may report every step (hundreds per second on a
GPU); the relay passes at most one "progress" per PROGRESS_INTERVAL_S, carrying the latest
message plus `"points": [(step, losses), ...]` for every step it stands for, so a loss plot
loses nothing and the owner is never flooded. The first progress message passes at once.

What it must never do: touch the project database (the session registers the new version when
"done" arrives), import torch or Qt, or block the owner (`stop`/`cancel`/`kill` only set flags
that the relay thread acts on).
"""

from __future__ import annotations

import logging
import threading
import time
import traceback
from typing import Callable

from .background import Post, TaskContext, Worker

log = logging.getLogger(__name__)

POLL_S = 0.1                # how long one poll of the child's pipe may wait (a message ends it at once)
PROGRESS_INTERVAL_S = 0.1   # at most ~10 progress messages a second reach the owner
DEAD_CHILD_GRACE_S = 5.0    # a dead child that sent no final message within this is reported
FINAL_TYPES = ("done", "cancelled", "failed")
_STAYS = "the previous model stays active"


def failure(message: str, kind: str = "crash", details: str = "") -> dict:
    """A "failed" message made on this side (the job could not start, or died unreported)."""
    return {"type": "failed", "kind": kind, "message": message, "details": details}


class FinetuneRunner:
    """The owner's handle on fine-tuning: one job at a time (see the module docstring)."""

    def __init__(self, post: Post, on_message: Callable[[dict], None],
                 on_finished: Callable[[], None] | None = None, start_job=None):
        self.on_message = on_message
        self.on_finished = on_finished or (lambda: None)
        self._start_job = start_job
        self._worker = Worker(post, "sdanet-finetune-relay")
        self._task = None
        self._stop = threading.Event()
        self._cancel = threading.Event()
        self._kill = threading.Event()
        self._busy = False
        self.job = None               # the running finetune_job.FinetuneJob (None before the child exists)
        self.pid: int | None = None

    def busy(self) -> bool:
        """True from start() until on_finished has run (the final message may have come already)."""
        return self._busy

    def start(self, request) -> None:
        if self._busy:
            raise RuntimeError("fine-tuning is already running")
        self._stop, self._cancel, self._kill = threading.Event(), threading.Event(), threading.Event()
        self.job, self.pid, self._busy = None, None, True
        flags = (self._stop, self._cancel, self._kill)
        self._task = self._worker.submit(
            lambda ctx: self._run(ctx, request, *flags),
            on_error=lambda exc: self.on_message(failure(
                f"fine-tuning stopped unexpectedly ({type(exc).__name__}: {exc}); {_STAYS}",
                details="".join(traceback.format_exception(type(exc), exc, exc.__traceback__)))),
            on_finished=self._finished)

    def stop(self) -> None:
        """Keep the weights so far and finish normally ("done" with stopped=True)."""
        self._stop.set()

    def cancel(self) -> None:
        """Discard the run: no checkpoint, "cancelled"."""
        self._cancel.set()

    def kill(self) -> None:
        """Hard-kill the child (the window is closing)."""
        self._kill.set()

    def wait(self, timeout_s: float) -> bool:
        """Block until the relay has let go of the child (closing only); True if it did."""
        task = self._task
        return task is None or task.wait(timeout_s)

    def _finished(self) -> None:
        self._busy = False
        self.on_finished()

    # --- the relay thread -------------------------------------------------------------------
    def _run(self, ctx: TaskContext, request, stop, cancel, kill) -> None:
        from ..errors import UserError

        start_job = self._start_job
        if start_job is None:
            from .finetune_job import start_job
        if cancel.is_set() or kill.is_set():
            ctx.send(self.on_message, {"type": "cancelled"})
            return
        try:
            job = start_job(request)
        except UserError as exc:
            ctx.send(self.on_message, failure(f"{exc}; {_STAYS}", kind="input"))
            return
        except OSError as exc:
            ctx.send(self.on_message, failure(f"cannot start the training process ({exc}); {_STAYS}",
                                              details=traceback.format_exc()))
            return
        self.job, self.pid = job, int(job.pid)
        self._relay(ctx, job, stop, cancel, kill)
        job.join(timeout=10)

    def _relay(self, ctx: TaskContext, job, stop, cancel, kill) -> None:
        forwarded_stop = forwarded_cancel = killed = False
        pending: dict | None = None   # coalesced progress not yet passed on
        last_emit = 0.0
        silent_since: float | None = None
        while True:
            if kill.is_set() and not killed:
                job.kill()
                killed = True
            if cancel.is_set() and not forwarded_cancel:
                job.cancel()
                forwarded_cancel = True
            elif stop.is_set() and not forwarded_stop and not forwarded_cancel:
                job.stop()
                forwarded_stop = True
            msg = job.poll(timeout=POLL_S)
            now = time.monotonic()
            if msg is None:
                if pending is not None and now - last_emit >= PROGRESS_INTERVAL_S:
                    ctx.send(self.on_message, pending)
                    pending, last_emit = None, now
                if job.is_alive():
                    silent_since = None
                    continue
                silent_since = silent_since or now
                if now - silent_since > DEAD_CHILD_GRACE_S:  # poll() should have said so already
                    ctx.send(self.on_message, failure(
                        f"the training process ended without a result (exit code "
                        f"{getattr(job, 'exitcode', '?')}); {_STAYS}"))
                    return
                continue
            silent_since = None
            kind = msg.get("type")
            if kind == "progress":
                point = (msg.get("step"), dict(msg.get("losses") or {}))
                points = (pending or {}).get("points", []) + [point]
                pending = {**msg, "points": points}
                if last_emit == 0.0 or now - last_emit >= PROGRESS_INTERVAL_S:
                    ctx.send(self.on_message, pending)
                    pending, last_emit = None, now
                continue
            if pending is not None:  # a plot gets every step before what follows
                ctx.send(self.on_message, pending)
                pending, last_emit = None, now
            if kind not in ("started", "eval") + FINAL_TYPES:
                log.warning("fine-tuning: ignoring an unknown message %r", kind)
                continue
            ctx.send(self.on_message, msg)
            if kind in FINAL_TYPES:
                return
