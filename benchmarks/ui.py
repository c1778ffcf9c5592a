"""Timeline pan/zoom frame time with 20 classes x 20,000 snippets (budget: < 16 ms per frame),
seek-click-to-frame-painted on a real sample video, and playback drift.

How it is measured: a real `TimelineWidget` (1600x600 px) is filled with 20 score curves of 20,000
snippets each, the attention curve, a threshold line and 20 segment lanes (segments = runs of the
score above 0.5, ~800 per lane, mixed provenance). Each step changes the x range (a pan by 10 % of
the view, or a zoom by 1.25x around the centre) and then times, with perf_counter, everything a
user waits for before the new frame is on screen: `processEvents()`, which runs pyqtgraph's
range-change handlers (re-downsampling and clipping the curves) AND the paint Qt schedules for the
viewport (an event filter counts paint events to confirm it; if none happened, a synchronous
`viewport().repaint()` is added to the step). The offscreen platform rasterizes in software into
the backing store like a real window. Reported per zoom level: median, p95 and max over the steps
(wall clock and UI-thread CPU time), and "settle": while the view moves, the score curves and
dense lanes show their last exact rendering moved/stretched into place, and redraw exactly once
the view has been still for 60 ms; settle is that one-off exact redraw, timed after the steps.

Seek: a left click on the timeline's score lane at a random time of a real sample video (the
ReviewView as in the app, decoding in the FrameServer's reader thread) until the FrameView has
painted that frame; p50/p95 over --seeks clicks.
Stall: while the sample video plays at 1x with the full 20 x 20,000 timeline under it, a 5 ms
QTimer records the gaps between its firings: the longest gap is the longest UI-thread stall.
Drift: a generated 30 fps video (OpenCV, 160x90) of --drift-seconds is played at 1x; at the end
the player's position is compared with the monotonic time elapsed since Play (and the frame
actually shown with the position).

    QT_QPA_PLATFORM=offscreen python benchmarks/ui.py [--steps 60] [--snippets 20000] [--classes 20]
        [--seeks 40] [--video PATH] [--stall-seconds 8] [--drift-seconds 20]   (--drift-seconds 600 = 10 minutes)
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time

import numpy as np

from sdanet_gui.ui.event_loop import process_until


def build_timeline(classes: int, snippets: int):
    from sdanet_gui.ui.segment_lane import KINDS
    from sdanet_gui.ui.timeline import TimelineWidget

    rng = np.random.default_rng(0)
    step = 16 / 25.0
    times = np.arange(snippets) * step
    # AR(1) per class: threshold crossings every few snippets, i.e. ~1,000+ segments per lane
    noise = rng.normal(0, 1, (snippets, classes))
    ar = np.zeros_like(noise)
    for t in range(1, snippets):
        ar[t] = 0.85 * ar[t - 1] + noise[t]
    scores = 1 / (1 + np.exp(-(ar / ar.std(0) * 2 - 1.5)))
    w = TimelineWidget()
    w.resize(1600, 600)
    w.set_duration(snippets * step)
    w.set_classes([f"class {i:02d}" for i in range(classes)])
    w.set_scores(times, scores, scores.max(1))
    w.set_thresholds(0.5)
    total = 0
    for c in range(classes):
        on = np.diff(np.concatenate(([0], (scores[:, c] > 0.5).astype(np.int8), [0])))
        st, en = np.flatnonzero(on == 1), np.flatnonzero(on == -1)
        kinds = np.where(rng.random(len(st)) < 0.9, 0, rng.integers(1, len(KINDS), len(st)))
        ids = np.where(kinds == 0, -(np.arange(len(st)) + 1), np.arange(len(st)) + 1)
        w.lane(c).set_segments(ids, times[st], en * step, scores[st, c], kinds)
        total += len(st)
    return w, total


class PaintCounter:
    """Counts paint events of the timeline's viewport, to know whether a step really painted."""

    def __init__(self, widget):
        from PySide6.QtCore import QEvent, QObject

        counter = self

        class _Filter(QObject):
            def eventFilter(self, obj, ev):
                if ev.type() == QEvent.Type.Paint:
                    counter.count += 1
                return False

        self.count = 0
        self._filter = _Filter()
        widget.viewport().installEventFilter(self._filter)


def time_steps(app, w, width_s: float, steps: int, paints: PaintCounter, cpu: list | None = None) -> list[float]:
    lo = 0.0
    w.set_x_range(lo, lo + width_s)
    app.processEvents()
    w.viewport().repaint()
    out = []
    direction = 1
    for i in range(steps):
        if i % 4 == 3:  # every fourth step zooms (in/out alternately) around the centre
            a, b = w.x_range()
            c, f = (a + b) / 2, (1.25 if i % 8 == 3 else 0.8)
            new = (c - (c - a) * f, c + (b - c) * f)
        else:
            a, b = w.x_range()
            d = 0.1 * (b - a) * direction
            if b + d > w.duration or a + d < 0:
                direction = -direction
                d = -d
            new = (a + d, b + d)
        before = paints.count
        c0 = time.thread_time()
        t0 = time.perf_counter()
        w.set_x_range(*new)
        app.processEvents()  # range-change handlers + the deferred paint Qt schedules
        if paints.count == before:  # no paint happened yet: force it synchronously
            w.viewport().repaint()
        out.append((time.perf_counter() - t0) * 1000)
        if cpu is not None:
            cpu.append((time.thread_time() - c0) * 1000)
    return out


def time_settle(app, w) -> float:
    """The one-off exact redraw once the view has been still (curves and strips rebuilt)."""
    from sdanet_gui.ui.score_curves import SETTLE_MS

    end = time.monotonic() + 2 * SETTLE_MS / 1000
    while time.monotonic() < end:
        time.sleep(0.005)
    t0 = time.perf_counter()
    app.processEvents()  # the settle timers fire: items re-render for the current view
    w.viewport().repaint()
    return (time.perf_counter() - t0) * 1000


def bench_seek(app, video: str, seeks: int) -> list[float]:
    from PySide6.QtCore import QPoint, Qt
    from PySide6.QtTest import QTest

    from sdanet_gui.media.reader import open_video
    from sdanet_gui.ui.review_view import ReviewView

    reader = open_video(video)
    view = ReviewView()
    view.resize(1280, 760)
    view.show()
    view.show_video(reader)
    process_until(app, lambda: view.player.shown_frame == 0, 10)
    tl = view.timeline
    rng = np.random.default_rng(1)
    out = []
    for _ in range(seeks):
        target = float(rng.uniform(0, reader.clock.duration))
        pos = tl.widget_pos("score", target)
        t0 = time.perf_counter()
        QTest.mouseClick(tl.viewport(), Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier,
                         QPoint(pos.x(), pos.y()))
        want = view.player.position
        painted = view.frame_view.paints
        process_until(app, lambda: view.frame_view.index == want and view.frame_view.paints > painted, 5)
        out.append((time.perf_counter() - t0) * 1000)
    view.close_video()
    reader.close()
    return out


def bench_drift(app, seconds: float) -> tuple[float, float, float]:
    import tempfile

    import cv2

    from sdanet_gui.media.reader import open_video
    from sdanet_gui.ui.review_view import ReviewView

    path = os.path.join(tempfile.mkdtemp(prefix="sdanet-drift-"), "clock.mp4")
    fps, n = 30, int(round(seconds * 30)) + 30
    out = cv2.VideoWriter(path, cv2.VideoWriter_fourcc(*"mp4v"), fps, (160, 90))
    frame = np.zeros((90, 160, 3), np.uint8)
    for i in range(n):
        frame[:] = i % 256
        out.write(frame)
    out.release()
    reader = open_video(path)
    view = ReviewView()
    view.show()
    view.show_video(reader)
    process_until(app, lambda: view.player.shown_frame == 0, 10)
    t0 = time.monotonic()
    view.player.play()
    process_until(app, lambda: False, seconds)
    elapsed = time.monotonic() - t0
    position_s = view.player.seconds()
    shown = view.player.shown_frame
    view.player.pause()
    view.close_video()
    reader.close()
    return elapsed, position_s - elapsed, (view.player.position - shown) / fps if shown is not None else float("nan")


def bench_stall(app, video: str, seconds: float, classes: int, snippets: int) -> list[float]:
    """Event-loop gaps (ms) seen by a 5 ms timer while a real video plays at 1x with a full
    timeline (classes x snippets scores and lanes) following the playhead."""
    from PySide6.QtCore import QTimer

    from sdanet_gui.media.reader import open_video
    from sdanet_gui.ui.review_view import ReviewView

    reader = open_video(video)
    view = ReviewView()
    view.resize(1280, 800)
    view.show()
    view.show_video(reader)
    dense, _ = build_timeline(classes, snippets)  # borrow its data: same scores and lanes
    dur = reader.clock.duration
    times, scores, att = dense._scores
    scale = dur / dense.duration
    view.timeline.set_classes(dense.classes)
    view.timeline.set_scores(times * scale, scores, att)
    for r, lane in enumerate(dense.lanes):
        view.timeline.lane(r).set_segments(lane.ids, lane.starts * scale, lane.ends * scale,
                                           lane.scores, lane.kinds)
    view.timeline.set_duration(dur)
    dense.close()
    process_until(app, lambda: view.player.shown_frame == 0, 10)
    gaps, last = [], [time.perf_counter()]

    def tick():
        now = time.perf_counter()
        gaps.append((now - last[0]) * 1000)
        last[0] = now

    timer = QTimer()
    timer.setInterval(5)
    timer.timeout.connect(tick)
    timer.start()
    process_until(app, lambda: False, seconds / 2)  # control: the same window, idle (machine noise)
    idle, gaps[:] = list(gaps), []
    last[0] = time.perf_counter()
    view.player.play()
    process_until(app, lambda: False, seconds)
    timer.stop()
    view.player.pause()
    view.close_video()
    reader.close()
    return gaps, idle


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--steps", type=int, default=60)
    ap.add_argument("--snippets", type=int, default=20000)
    ap.add_argument("--classes", type=int, default=20)
    ap.add_argument("--seeks", type=int, default=40)
    ap.add_argument("--video", default=os.path.join(os.path.dirname(__file__), "..", "..", "shared",
                                                    "data", "videos", "video_features__v_ZNVhz7ctTq0.mp4"))
    ap.add_argument("--drift-seconds", type=float, default=20.0)
    ap.add_argument("--stall-seconds", type=float, default=8.0)
    args = ap.parse_args()
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from PySide6.QtWidgets import QApplication

    app = QApplication.instance() or QApplication(sys.argv[:1])
    w, nseg = build_timeline(args.classes, args.snippets)
    w.show()
    app.processEvents()
    duration = w.duration
    paints = PaintCounter(w)
    print(f"timeline: {args.classes} classes x {args.snippets} snippets, {nseg} segments, "
          f"{w.width()}x{w.height()} px, platform {app.platformName()}")
    print(f"load average before: {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs "
          "(wall time includes waiting for the CPU; UI-thread CPU time does not)")
    print(f"{'view width':>22} {'median ms':>10} {'p95 ms':>8} {'max ms':>8} {'CPU median':>11} "
          f"{'CPU p95':>8} {'settle ms':>10}")
    worst = worst_cpu = 0.0
    for label, width in (("whole video", duration), ("1/10 of video", duration / 10),
                         ("60 s", 60.0), ("10 s", 10.0)):
        cpu: list[float] = []
        ms = time_steps(app, w, width, args.steps, paints, cpu)
        p95, cpu95 = float(np.percentile(ms, 95)), float(np.percentile(cpu, 95))
        worst, worst_cpu = max(worst, p95), max(worst_cpu, cpu95)
        settle = time_settle(app, w)
        print(f"{label + f' ({width:.0f} s)':>22} {statistics.median(ms):>10.2f} {p95:>8.2f} {max(ms):>8.2f}"
              f" {statistics.median(cpu):>11.2f} {cpu95:>8.2f} {settle:>10.2f}")
    print(f"load average after: {os.getloadavg()[0]:.1f}")
    print(f"worst p95 frame time {worst:.2f} ms wall, {worst_cpu:.2f} ms UI-thread CPU "
          f"(budget 16 ms): {'OK' if worst < 16 else 'OVER BUDGET (wall)'}")
    w.close()

    if args.seeks > 0 and os.path.exists(args.video):
        ms = bench_seek(app, args.video, args.seeks)
        print(f"seek click -> frame painted on {os.path.basename(args.video)}: "
              f"p50 {np.percentile(ms, 50):.1f} ms, p95 {np.percentile(ms, 95):.1f} ms, "
              f"max {max(ms):.1f} ms over {len(ms)} random clicks")
    if args.stall_seconds > 0 and os.path.exists(args.video):
        gaps, idle = bench_stall(app, args.video, args.stall_seconds, args.classes, args.snippets)
        print(f"UI stall while playing {os.path.basename(args.video)} at 1x with the "
              f"{args.classes}x{args.snippets} timeline: event-loop gap p99 "
              f"{np.percentile(gaps, 99):.1f} ms, max {max(gaps):.1f} ms (5 ms timer, "
              f"{len(gaps)} ticks; budget: no stall over 50 ms); same window idle: p99 "
              f"{np.percentile(idle, 99):.1f} ms, max {max(idle):.1f} ms")
    if args.drift_seconds > 0:
        elapsed, drift, lag = bench_drift(app, args.drift_seconds)
        print(f"playback drift after {elapsed:.1f} s at 1x (generated 30 fps video): position - "
              f"elapsed = {drift * 1000:+.1f} ms; shown frame behind position by {lag * 1000:.0f} ms")
    return 0


if __name__ == "__main__":
    sys.exit(main())
