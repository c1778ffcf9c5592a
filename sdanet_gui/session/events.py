"""Plain events: how the Qt-free session tells its views that something changed.

Why not Qt signals: the session is also driven by `sdanet finetune --project` and by Qt-free
tests, and a widget must only observe state, never own it (napari's `components/` emit events
that its `_qt/` views subscribe to). An `Event` is a list of callbacks called in order, on the
thread that emits: the session emits only on its owner's thread (the window's UI thread), so
callbacks may touch widgets.

A callback that raises does not stop the others (one broken view must not leave the rest
stale); the first exception is raised again once all have run, so it reaches the application's
exception hook (a dialog and the log) and a test fails on it.
"""

from __future__ import annotations

import logging
from typing import Callable

log = logging.getLogger(__name__)


class Event:
    """`connect(fn)`, `disconnect(fn)`, `emit(*args)`."""

    def __init__(self, name: str = ""):
        self.name = name
        self._callbacks: list[Callable] = []

    def connect(self, fn: Callable) -> Callable:
        self._callbacks.append(fn)
        return fn

    def disconnect(self, fn: Callable) -> None:
        try:
            self._callbacks.remove(fn)
        except ValueError:
            pass

    def emit(self, *args) -> None:
        first: BaseException | None = None
        for fn in list(self._callbacks):
            try:
                fn(*args)
            except Exception as exc:  # noqa: BLE001 - see the module docstring
                log.exception("a listener of the %r event failed", self.name)
                first = first or exc
        if first is not None:
            raise first

    def __len__(self) -> int:
        return len(self._callbacks)


class Events:
    """A named group of events: `Events("status", "problem").status.emit(...)`."""

    def __init__(self, *names: str):
        for name in names:
            setattr(self, name, Event(name))
