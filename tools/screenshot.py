"""Save a screenshot of the review window on a real video, for the README (docs/).

    QT_QPA_PLATFORM=offscreen .venv/bin/python tools/screenshot.py OUT.png VIDEO [--seconds 3.2]

It opens the video the way a user does (through `MainWindow.open_paths`, into a new project in a
temporary app home), draws a few segments with the same edit commands the mouse uses, selects
one, seeks, waits for the frame to be painted and grabs the window. No scores are drawn unless a
model has produced them: the score lane then says so. Never used by the application itself.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from benchmarks.event_loop import process_until  # noqa: E402


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("out")
    ap.add_argument("video")
    ap.add_argument("--seconds", type=float, default=3.2)
    ap.add_argument("--size", default="1440x900")
    args = ap.parse_args(argv)
    os.environ.setdefault("SDANET_GUI_HOME", tempfile.mkdtemp(prefix="sdanet-shot-"))
    from PySide6.QtWidgets import QApplication

    from sdanet_gui.ui.shell.main_window import MainWindow

    app = QApplication.instance() or QApplication(sys.argv[:1])
    w, h = (int(v) for v in args.size.split("x"))
    win = MainWindow()
    win.resize(w, h)
    win.show()
    win.open_paths([args.video])
    process_until(app, lambda: win.review is not None and win.review.player.shown_frame == 0, 30, poll=0.01)
    project, review = win.project, win.review
    project.add_classes(["arm wrestling", "cheering"])
    review.editor.refresh()
    clock = review.editor.clock
    fr = lambda s: int(clock.seconds_to_boundary(s))  # noqa: E731
    review.editor.add(1, fr(0.6), fr(6.4))
    review.editor.add(1, fr(7.0), fr(9.6))
    review.editor.add(2, fr(6.4), fr(7.4))
    review.editor.add(0, fr(2.0), fr(3.0))
    first = min(project.segments(win.current_video_id), key=lambda seg: seg.start_frame)
    review.editor.select(first.id)
    review.player.seek_seconds(args.seconds)
    process_until(app, lambda: review.player.shown_frame == review.player.position, 10, poll=0.01)
    review.timeline.fit()
    process_until(app, lambda: False, 0.3, poll=0.01)
    win.grab().save(args.out)
    print(f"saved {args.out} ({w}x{h}) on {args.video}")
    win.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
