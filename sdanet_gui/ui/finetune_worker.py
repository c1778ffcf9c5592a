"""Run one fine-tuning job off the UI thread and relay its messages as Qt signals.

Why it exists: training runs for minutes in a child process (`project.finetune_job.start_job`,
multiprocessing 'spawn', so torch and its threads never share the window's process). Someone
has to start that child and wait on its message pipe; doing it on the UI thread would stall the
window (the spawn alone imports torch for seconds). `FinetuneWorker` is a QObject moved to a
QThread: its `run()` starts the job, polls it, and re-emits each message as a queued signal
(`started`, `progress`, `evaluated`, `done`, `cancelled`, `failed`, then `finished`).
`FinetuneRunner` owns the thread and is what the window talks to: `start(request)`, `stop()`,
`cancel()`, `kill()`, `busy()`, `pid`.

Progress messages are coalesced: the child may report every step (hundreds per second on a
GPU); the worker emits at most one `progress` per `PROGRESS_INTERVAL_S` carrying the latest
message plus `"points": [(step, losses), ...]` for every step it stands for, so the loss plot
loses nothing and the UI thread is never flooded. The first progress message is emitted at once.

What it must never do: touch the project database (its SQLite connection belongs to the UI
thread; the window registers the new model version when `done` arrives), import torch (the
child does), or block the UI thread (`stop`/`cancel`/`kill` only set flags or signal the child).
"""

from __future__ import annotations

import logging
import threading
import time
import traceback
from functools import partial

from PySide6.QtCore import QObject, Qt, QThread, Signal, Slot

log = logging.getLogger(__name__)

POLL_S = 0.1                # how long one poll of the child's pipe may wait (a message ends it at once)
PROGRESS_INTERVAL_S = 0.1   # at most ~10 progress signals a second reach the UI thread
DEAD_CHILD_GRACE_S = 5.0    # a dead child that sent no final message within this is reported
FINAL_TYPES = ("done", "cancelled", "failed")


def failure(message: str, kind: str = "crash", details: str = "") -> dict:
    """A `failed` message made on this side (the job could not start, or died unreported)."""
    return {"type": "failed", "kind": kind, "message": message, "details": details}


class FinetuneWorker(QObject):
    """Starts and watches one job; lives in a QThread (see FinetuneRunner). Signals carry the
    job's message dicts unchanged (progress: plus "points")."""

    started = Signal(object)
    progress = Signal(object)
    evaluated = Signal(object)
    done = Signal(object)
    cancelled = Signal(object)
    failed = Signal(object)
    job_started = Signal(int)     # the child's pid, as soon as it exists
    finished = Signal()

    def __init__(self, request, start_job=None):
        super().__init__()
        self._request = request
        self._start_job = start_job
        self._stop = threading.Event()
        self._cancel = threading.Event()
        self._kill = threading.Event()
        self.job = None

    # --- called from the UI thread: flags only, never blocking ----------------------------------
    def request_stop(self) -> None:
        self._stop.set()

    def request_cancel(self) -> None:
        self._cancel.set()

    def request_kill(self) -> None:
        self._kill.set()  # the worker thread kills the child (FinetuneJob.kill joins it)

    # --- the worker thread -------------------------------------------------------------------
    @Slot()
    def run(self) -> None:
        try:
            self._run()
        except Exception as exc:  # noqa: BLE001 - any surprise becomes a dialog, the window lives on
            log.exception("fine-tuning relay failed")
            self.failed.emit(failure(f"fine-tuning stopped unexpectedly ({type(exc).__name__}: {exc}); "
                                     "the previous model stays active", details=traceback.format_exc()))
        finally:
            self.finished.emit()

    def _run(self) -> None:
        from ..errors import UserError

        start_job = self._start_job
        if start_job is None:
            from ..project.finetune_job import start_job
        if self._cancel.is_set() or self._kill.is_set():
            self.cancelled.emit({"type": "cancelled"})
            return
        try:
            job = start_job(self._request)
        except UserError as exc:
            self.failed.emit(failure(f"{exc}; the previous model stays active", kind="input"))
            return
        except OSError as exc:
            self.failed.emit(failure(f"cannot start the training process ({exc}); the previous model "
                                     "stays active", details=traceback.format_exc()))
            return
        self.job = job
        self.job_started.emit(int(job.pid))
        self._relay(job)
        job.join(timeout=10)

    def _relay(self, job) -> None:
        forwarded_stop = forwarded_cancel = False
        pending: dict | None = None   # coalesced progress not yet emitted
        last_emit = 0.0
        silent_since: float | None = None
        killed = False
        while True:
            if self._kill.is_set() and not killed:
                job.kill()
                killed = True
            if self._cancel.is_set() and not forwarded_cancel:
                job.cancel()
                forwarded_cancel = True
            elif self._stop.is_set() and not forwarded_stop and not forwarded_cancel:
                job.stop()
                forwarded_stop = True
            msg = job.poll(timeout=POLL_S)
            now = time.monotonic()
            if msg is None:
                if pending is not None and now - last_emit >= PROGRESS_INTERVAL_S:
                    self.progress.emit(pending)
                    pending, last_emit = None, now
                if job.is_alive():
                    silent_since = None
                    continue
                silent_since = silent_since or now
                if now - silent_since > DEAD_CHILD_GRACE_S:  # poll() should have said so already
                    self.failed.emit(failure(f"the training process ended without a result (exit code "
                                             f"{getattr(job, 'exitcode', '?')}); the previous model "
                                             "stays active"))
                    return
                continue
            silent_since = None
            kind = msg.get("type")
            if kind == "progress":
                point = (msg.get("step"), dict(msg.get("losses") or {}))
                points = (pending or {}).get("points", []) + [point]
                pending = {**msg, "points": points}
                first = last_emit == 0.0
                if first or now - last_emit >= PROGRESS_INTERVAL_S:
                    self.progress.emit(pending)
                    pending, last_emit = None, now
                continue
            if pending is not None:  # the plot gets every step before what follows
                self.progress.emit(pending)
                pending, last_emit = None, now
            if kind == "started":
                self.started.emit(msg)
            elif kind == "eval":
                self.evaluated.emit(msg)
            elif kind == "done":
                self.done.emit(msg)
            elif kind == "cancelled":
                self.cancelled.emit(msg)
            elif kind == "failed":
                self.failed.emit(msg)
            else:
                log.warning("fine-tuning: ignoring an unknown message %r", kind)
            if kind in FINAL_TYPES:
                return


class FinetuneRunner(QObject):
    """The window's handle on fine-tuning: one job at a time, in a QThread of its own.

    Signals (emitted on the UI thread, queued from the worker): started, progress, evaluated,
    done, cancelled, failed (each with the job's message dict) and finished() after the final
    message, once the thread is done."""

    started = Signal(object)
    progress = Signal(object)
    evaluated = Signal(object)
    done = Signal(object)
    cancelled = Signal(object)
    failed = Signal(object)
    finished = Signal()

    def __init__(self, parent=None, start_job=None):
        super().__init__(parent)
        self._start_job = start_job
        self._thread: QThread | None = None
        self._worker: FinetuneWorker | None = None
        self.pid: int | None = None

    def busy(self) -> bool:
        """True while the worker thread runs (the child may already have sent its final message)."""
        return self._thread is not None and not self._thread.isFinished()

    @property
    def job(self):
        """The running FinetuneJob (None before the child exists)."""
        return self._worker.job if self._worker is not None else None

    def start(self, request) -> None:
        if self.busy():
            raise RuntimeError("fine-tuning is already running")
        thread = QThread(self)
        thread.setObjectName("sdanet-finetune")
        worker = FinetuneWorker(request, self._start_job)
        worker.moveToThread(thread)
        queued = Qt.ConnectionType.QueuedConnection
        for name in ("started", "progress", "evaluated", "done", "cancelled", "failed"):
            getattr(worker, name).connect(getattr(self, name), queued)
        worker.job_started.connect(self._job_started, queued)
        worker.finished.connect(thread.quit, Qt.ConnectionType.DirectConnection)  # thread-safe
        thread.finished.connect(partial(self._thread_finished, thread, worker), queued)
        thread.started.connect(worker.run)
        self._thread, self._worker, self.pid = thread, worker, None
        thread.start()

    def stop(self) -> None:
        """Keep the weights so far and finish normally ("done" with stopped=True)."""
        if self._worker is not None:
            self._worker.request_stop()

    def cancel(self) -> None:
        """Discard the run: no checkpoint, "cancelled"."""
        if self._worker is not None:
            self._worker.request_cancel()

    def kill(self) -> None:
        """Hard-kill the child (the window is closing)."""
        if self._worker is not None:
            self._worker.request_kill()

    def wait(self, timeout_s: float) -> bool:
        """Block until the worker thread ended (window closing only); True if it did."""
        if self._thread is None:
            return True
        return self._thread.wait(int(timeout_s * 1000))

    def _job_started(self, pid: int) -> None:
        self.pid = pid

    def _thread_finished(self, thread: QThread, worker: FinetuneWorker) -> None:
        if self._thread is thread:  # not a newer run's
            self._thread = self._worker = None
        worker.deleteLater()
        thread.deleteLater()
        self.finished.emit()
