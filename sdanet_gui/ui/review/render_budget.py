"""How much exact re-rendering the timeline may do in one repaint, shared by all of its items.

Why it exists: when a pan or zoom comes to rest, every item re-renders what it showed stretched
(the score curves, two strips per class lane, their whole-video overviews). Each piece is cheap,
but all of them in the same repaint froze the UI thread for 80+ ms (benchmarks/ui.py, "settle" at
1/10 of a 3.5 h video with 20 classes), and DESIGN.md calls any stall over 50 ms a bug. So the
timeline resets this budget at the start of each of its repaints, an item asks `available()`
before an optional rendering and reports what it spent with `charge()`; an item that finds the
budget spent shows what it has (stale or stretched) and calls `retry(callback)`, which runs the
callback on the next turn of the event loop (the callback updates the item, so it paints again
in the next repaint with a fresh budget). The first rendering of a repaint is always allowed, so
every item gets its turn. This module only keeps time; it never draws.
"""

from __future__ import annotations

import time
from contextlib import contextmanager

from PySide6.QtCore import QTimer

TURN_BUDGET_MS = 14.0   # a repaint stops starting optional renderings after this much


class RenderBudget:
    def __init__(self, budget_ms: float = TURN_BUDGET_MS):
        self.budget_ms = float(budget_ms)
        self.spent_ms = 0.0
        self.deferred = 0          # renderings put off to a later repaint (tests, benchmark)
        self.charges = 0           # renderings made

    def reset(self) -> None:
        """A repaint starts: the whole budget is available again."""
        self.spent_ms = 0.0

    def available(self) -> bool:
        """True while this repaint has spent less than the budget (always for its first rendering)."""
        return self.spent_ms == 0.0 or self.spent_ms < self.budget_ms

    @contextmanager
    def charge(self):
        """Time one rendering against the budget."""
        t0 = time.perf_counter()
        self.charges += 1
        try:
            yield
        finally:
            self.spent_ms += (time.perf_counter() - t0) * 1000.0

    def retry(self, callback) -> None:
        """Run `callback` (a method of a QObject: the item) on the next turn of the event loop,
        after this repaint; dropped if the item is deleted before then."""
        self.deferred += 1
        QTimer.singleShot(0, callback.__self__, callback)


BUDGET = RenderBudget()
