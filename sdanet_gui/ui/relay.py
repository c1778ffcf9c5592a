"""`UiPost`: the window's `post(fn)`, the Qt end of the one way work runs off the UI thread.

Background work (jobs/background.py: opening, locating, extraction, scoring and fine-tuning
relays) reports back by posting plain callables; this QObject, created on the UI thread, turns
each post into a queued signal, so the callable runs on the UI thread in its next turn of the
event loop, in the order posted. Nothing else in ui/ builds its own thread-to-UI relay.
`observe` ties a widget's interest in a session event to the widget's lifetime.
"""

from __future__ import annotations

from PySide6.QtCore import QObject, Qt, Signal, Slot


class UiPost(QObject):
    _call = Signal(object)

    def __init__(self, parent=None):
        super().__init__(parent)
        self._call.connect(self._run, Qt.ConnectionType.QueuedConnection)

    def __call__(self, fn) -> None:
        """Run `fn()` on the UI thread soon; callable from any thread, never blocks."""
        self._call.emit(fn)

    @Slot(object)
    def _run(self, fn) -> None:  # a slot of this object: it runs in this object's (the UI) thread
        fn()


def observe(widget, event, fn) -> None:
    """Connect `fn` to a session event (events.Event) for as long as `widget` exists: a deleted
    dialog must not be called by the session afterwards."""
    event.connect(fn)
    widget.destroyed.connect(lambda *_: event.disconnect(fn))
