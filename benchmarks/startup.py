"""Launch-to-visible-window time of `sdanet-gui` (median of several cold launches).

Each launch is a fresh interpreter running the real entry point (`sdanet_gui.app.main`), timed
from just before the process is spawned until the main window has painted for the first time.
The only thing the probe adds is a hook on the window's first paint that prints and quits.
Budget (DESIGN.md): under 1.5 s.

    python benchmarks/startup.py [--runs 7]
Uses the offscreen Qt platform unless DISPLAY is set (then a real X window, e.g. under Xvfb).
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time

PROBE = r"""
import sys, time
from sdanet_gui.ui.shell import main_window as mw
_orig = mw.MainWindow.paintEvent if hasattr(mw.MainWindow, "paintEvent") else None
def _first_paint(self, event, _done=[False]):
    from PySide6.QtWidgets import QMainWindow, QApplication
    QMainWindow.paintEvent(self, event)
    if not _done[0]:
        _done[0] = True
        mods = [m for m in ("torch", "decord", "h5py", "av", "cv2") if m in sys.modules]
        print(f"PAINTED {time.time():.6f} heavy={','.join(mods) or '-'}", flush=True)
        QApplication.instance().quit()
mw.MainWindow.paintEvent = _first_paint
from sdanet_gui.app import main
sys.exit(main([]))
"""


def launch_once(env) -> tuple[float, str]:
    t0 = time.time()
    out = subprocess.run([sys.executable, "-c", PROBE], capture_output=True, text=True, env=env, timeout=60)
    for line in out.stdout.splitlines():
        if line.startswith("PAINTED"):
            _, stamp, heavy = line.split()
            heavy = heavy.removeprefix("heavy=")
            return float(stamp) - t0, heavy
    raise RuntimeError(f"window never painted:\n{out.stdout}\n{out.stderr}")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=7)
    args = ap.parse_args()
    env = dict(os.environ)
    if not env.get("DISPLAY"):
        env.setdefault("QT_QPA_PLATFORM", "offscreen")
    env["SDANET_GUI_HOME"] = tempfile.mkdtemp(prefix="sdanet-startup-")
    launch_once(env)  # warm the OS file cache once; not counted
    times, heavy = [], set()
    for _ in range(args.runs):
        t, h = launch_once(env)
        times.append(t)
        heavy.add(h)
    med = statistics.median(times)
    print(f"platform      {env.get('QT_QPA_PLATFORM', 'xcb (DISPLAY=' + env.get('DISPLAY', '') + ')')}")
    print(f"launches      {args.runs}")
    print(f"median        {med * 1000:.0f} ms  (min {min(times) * 1000:.0f}, max {max(times) * 1000:.0f})")
    print(f"heavy modules imported before first paint: {', '.join(sorted(heavy))}")
    print(f"budget 1500 ms: {'OK' if med < 1.5 else 'MISSED'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
