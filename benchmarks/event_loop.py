"""Run the Qt event loop until something has happened, for scripts that drive the real window
(screenshots, benchmarks) outside pytest-qt's `waitUntil`; and measure how long it stalls
(GapProbe: the no-stall test and the benchmarks share it, so they measure the same thing).
Lives with the benchmarks (tests and tools/screenshot.py import it from here); never used by
the application itself."""

from __future__ import annotations

import time
from typing import Callable


def process_until(app, condition: Callable[[], bool], timeout: float, poll: float = 0.001) -> bool:
    """Process events until `condition()` is true or `timeout` seconds pass; True if it came true.

    `lambda: False` runs the loop for exactly `timeout` seconds (e.g. to let playback go on).
    """
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        app.processEvents()
        if condition():
            return True
        time.sleep(poll)
    return False


class GapProbe:
    """How long the UI thread stalls: a precise QTimer firing every `interval_ms` records each gap
    between two of its firings, with when the gap ended (`ends`, time.monotonic s), its length
    (`wall`, ms) and the CPU time the UI thread (`cpu`, ms) and the whole process (`proc`, ms)
    used within it. A gap much longer than the interval is a stall: with as much UI-thread CPU it
    was work done in the UI thread; with little, the OS, another process or a thread holding the
    GIL. Used by the no-stall test and the benchmarks, so they all measure the same thing."""

    def __init__(self, interval_ms: int = 5):
        from PySide6.QtCore import Qt, QTimer

        self.timer = QTimer()
        self.timer.setTimerType(Qt.TimerType.PreciseTimer)
        self.timer.setInterval(interval_ms)
        self.timer.timeout.connect(self.tick)
        self.reset()

    def start(self) -> None:
        self.reset()
        self.timer.start()

    def stop(self) -> None:
        self.timer.stop()

    def reset(self) -> None:
        """Forget the gaps so far; the next gap starts now."""
        self.ends: list[float] = []
        self.wall: list[float] = []
        self.cpu: list[float] = []
        self.proc: list[float] = []
        self.resume()

    def resume(self) -> None:
        """Start the next gap now (what happened since the last firing is not counted)."""
        self._w, self._c, self._p = time.perf_counter(), time.thread_time(), time.process_time()

    def tick(self) -> None:
        """End the current gap now (the timer's firing)."""
        w, c, p = time.perf_counter(), time.thread_time(), time.process_time()
        self.ends.append(time.monotonic())
        self.wall.append((w - self._w) * 1000)
        self.cpu.append((c - self._c) * 1000)
        self.proc.append((p - self._p) * 1000)
        self._w, self._c, self._p = w, c, p

    def longest(self, start: float = -float("inf"), end: float = float("inf")) -> tuple[float, float]:
        """(longest gap ms, when it ended) among the gaps that ended within [start, end]
        (time.monotonic s); (nan, nan) when none did."""
        inside = [(g, t) for t, g in zip(self.ends, self.wall) if start <= t <= end]
        return max(inside) if inside else (float("nan"), float("nan"))
