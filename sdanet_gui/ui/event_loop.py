"""Run the Qt event loop until something has happened, for scripts that drive the real window
(screenshots, benchmarks) outside pytest-qt's `waitUntil`."""

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
