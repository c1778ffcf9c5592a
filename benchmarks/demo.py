"""`sdanet-gui --demo`: time from launch to a scored review on screen, and a screenshot.

Runs the real window in this process (fresh app home in a temp dir, as on a fresh install):
creates the demo project, opens the bundled videos, scores them with the bundled checkpoint in
the worker thread, and stops the clock when the shown video has its predicted segments and
score curves. Budget (issue "review window"): under 10 s.

    python benchmarks/demo.py [--screenshot docs/screenshot-demo.png] [--size 1280x800]
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time

T0 = time.perf_counter()


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--screenshot", default=None)
    ap.add_argument("--timeout", type=float, default=60.0)
    ap.add_argument("--size", default="1440x900", help="window size WxH (e.g. 1280x800, 1920x1080)")
    args = ap.parse_args()
    os.environ["SDANET_GUI_HOME"] = tempfile.mkdtemp(prefix="sdanet-demo-")
    if not os.environ.get("DISPLAY"):
        os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from PySide6.QtWidgets import QApplication

    from event_loop import process_until
    from sdanet_gui.ui.shell.main_window import MainWindow

    app = QApplication(sys.argv[:1])
    window = MainWindow()
    window.resize(*(int(v) for v in args.size.split("x")))
    window.show()
    window.opening.open_demo()

    def ready() -> bool:
        vid = window.current_video_id
        if vid is None or window.project is None or not window.session.scored_videos():
            return False
        name = next((v.name for v in window.project.videos() if v.id == vid), None)
        return name in window.session.scored_videos() and bool(window.project.predicted_segments(vid))

    shown = time.perf_counter() - T0 if process_until(app, ready, args.timeout, poll=0.005) else None
    if shown is None:
        print(f"demo not ready after {args.timeout:.0f} s")
        return 1
    n_pred = len(window.project.predicted_segments(window.current_video_id))
    editor = window.review.editor
    n_shown = len(editor.visible_predictions())
    print(f"demo ready (scored review on screen) {shown:.2f} s after launch; "
          f"{len(window.project.videos())} videos, {n_pred} predicted segments stored on the shown "
          f"video, {n_shown} shown (display filter >= {editor.min_relative_score:g} x class best)")
    print(f"budget 10 s: {'OK' if shown < 10 else 'MISSED'}")
    if args.screenshot:
        process_until(app, lambda: False, 1.5, poll=0.01)  # let the frame paint and curves settle
        window.grab().save(args.screenshot)
        print(f"screenshot: {args.screenshot}")
    window.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
