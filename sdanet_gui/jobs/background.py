"""The one way work runs off the owner's thread, and how its messages come back.

Why it exists: opening videos, locating a moved file, extracting features and relaying the
scoring and fine-tuning children all do the same thing: work in a thread, report back to the
thread that owns the project (its SQLite connection belongs to that thread; so do Qt widgets).
Each used to build its own thread and Qt relay. Now the owner gives a `post(fn)` that runs `fn`
on its own thread soon (the window: `ui.relay.UiPost`, a queued Qt signal; a command or a
Qt-free test: `CallQueue`), and a `Worker` runs tasks one after another on one long-lived
thread of its own, started on first use (starting a thread per task made the UI thread wait for
the new thread to be scheduled).

A task is a function `work(ctx)`. Through `ctx` it
  - `send(fn, *args)`: runs fn(*args) on the owner's thread, in order, without waiting;
  - `hand_over(fn, *args)`: the same, and waits until it ran. A scoring result costs the UI
    thread ~30 ms to handle; results sent back to back would be handled in one turn of the event
    loop (a stall of N x 30 ms). Handed over one at a time, the loop gets a turn between any two;
  - `cancelled()`: the task's cooperative cancel flag (set by `Task.cancel()`).
An exception escaping a task is logged and handed to its `on_error` on the owner's thread; its
`on_finished` always comes last.

What it must never do: import Qt or torch, run a task on the owner's thread, or let a task's
failure end the worker thread.
"""

from __future__ import annotations

import logging
import queue
import threading
from typing import Callable

log = logging.getLogger(__name__)

Post = Callable[[Callable[[], None]], None]
HAND_OVER_POLL_S = 0.05


class Task:
    """A submitted piece of work: cancel it, ask whether it ended, wait for it."""

    def __init__(self, work, on_error, on_finished):
        self.work = work
        self.on_error = on_error
        self.on_finished = on_finished
        self.cancel_event = threading.Event()
        self._ended = threading.Event()

    def cancel(self) -> None:
        self.cancel_event.set()

    def cancelled(self) -> bool:
        return self.cancel_event.is_set()

    def done(self) -> bool:
        """The work function returned (its on_finished may still be on its way to the owner)."""
        return self._ended.is_set()

    def ended(self) -> None:
        """Called by the worker when the work function has returned (or raised)."""
        self._ended.set()

    def wait(self, timeout: float | None = None) -> bool:
        return self._ended.wait(timeout)


class TaskContext:
    """What a running task may do: see the module docstring."""

    def __init__(self, worker: "Worker", task: Task):
        self._worker = worker
        self.task = task

    def cancelled(self) -> bool:
        return self.task.cancelled()

    @property
    def cancel_event(self) -> threading.Event:
        return self.task.cancel_event

    def closing(self) -> bool:
        """The worker is shutting down (the owner is closing): stop waiting on anyone."""
        return self._worker.closing

    def send(self, fn: Callable, *args) -> None:
        self._worker.post(lambda: fn(*args))

    def hand_over(self, fn: Callable, *args) -> None:
        handled = threading.Event()

        def call():
            try:
                fn(*args)
            finally:
                handled.set()

        self._worker.post(call)
        while not handled.wait(HAND_OVER_POLL_S):
            if self._worker.closing:
                return


class Worker:
    """Runs submitted tasks one after another on one daemon thread (see the module docstring)."""

    def __init__(self, post: Post, name: str):
        self.post = post
        self.name = name
        self.closing = False
        self._tasks: queue.SimpleQueue = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self._pending = 0             # submitted tasks whose on_finished has not run yet
        self._lock = threading.Lock()

    def submit(self, work: Callable[[TaskContext], None], *, on_error: Callable | None = None,
               on_finished: Callable | None = None) -> Task:
        """Queue `work(ctx)`; returns at once (the thread is started on first use)."""
        task = Task(work, on_error, on_finished)
        with self._lock:
            self.closing = False
            self._pending += 1
            if self._thread is None or not self._thread.is_alive():
                self._tasks = queue.SimpleQueue()
                self._thread = threading.Thread(target=self._loop, args=(self._tasks,),
                                                name=self.name, daemon=True)
                self._thread.start()
            self._tasks.put(task)
        return task

    def busy(self) -> bool:
        """A task is queued or running, or its on_finished has not reached the owner yet."""
        return self._pending > 0

    def is_alive(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def shutdown(self, timeout: float = 1.0) -> None:
        """The owner is closing: tasks stop waiting for hand-overs, the thread ends after the
        running task (whose own cancel the owner has asked for). Waits up to `timeout`."""
        with self._lock:
            self.closing = True
            thread, self._thread = self._thread, None
            if thread is not None:
                self._tasks.put(None)
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout)
        self._pending = 0

    def _loop(self, tasks: queue.SimpleQueue) -> None:
        while True:
            task = tasks.get()
            if task is None:
                return
            try:
                task.work(TaskContext(self, task))
            except Exception as exc:  # noqa: BLE001 - reported to the owner; the thread lives on
                log.exception("%s: a background task failed", self.name)
                if task.on_error is not None:
                    self.post(lambda exc=exc, task=task: task.on_error(exc))
            finally:
                task.ended()
                self.post(lambda task=task: self._finished(task))

    def _finished(self, task: Task) -> None:
        self._pending = max(0, self._pending - 1)
        if task.on_finished is not None:
            task.on_finished()


class CallQueue:
    """`post` for an owner without an event loop (a command, a Qt-free test): posted calls wait
    here until the owner runs them with `run_pending` or `run_until`."""

    def __init__(self):
        self._calls: queue.SimpleQueue = queue.SimpleQueue()

    def __call__(self, fn: Callable[[], None]) -> None:
        self._calls.put(fn)

    def run_pending(self, timeout: float = 0.0) -> int:
        """Run what is queued (waiting up to `timeout` for the first call); returns how many ran."""
        n = 0
        try:
            fn = self._calls.get(timeout=timeout) if timeout > 0 else self._calls.get_nowait()
            while True:
                fn()
                n += 1
                fn = self._calls.get_nowait()
        except queue.Empty:
            return n

    def run_until(self, done: Callable[[], bool], timeout: float = 60.0) -> bool:
        """Run posted calls until `done()` is true; False when `timeout` seconds passed first."""
        import time

        end = time.monotonic() + timeout
        while not done():
            left = end - time.monotonic()
            if left <= 0:
                return False
            self.run_pending(min(left, 0.05))
        return True
