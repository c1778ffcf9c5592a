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
lanes show their last exact rendering moved/stretched into place (where it does not reach: a
coarse whole-video overview, or the few rectangles of a sparse lane drawn directly), and redraw
exactly once the view has been still for 60 ms; settle is that one-off exact redraw, timed after
the steps, which the items spread over several turns of the event loop (ui/render_budget.py):
the longest turn (a UI stall) and the sum of all turns. `--only panzoom` runs this section alone.

Seek: a left click on the timeline's score lane at a random time of a real sample video (the
ReviewView as in the app, decoding in the FrameServer's reader thread) until the FrameView has
painted that frame; p50/p95 over --seeks clicks.
Stall: while the sample video plays at 1x with the full 20 x 20,000 timeline under it, a 5 ms
QTimer records the gaps between its firings: the longest gap is the longest UI-thread stall.
Stall while scoring: the real MainWindow (SDANET_GUI_HOME in a temp folder) opens the sample
video and plays it at 1x while the bundled demo checkpoint scores the bundled demo features, run
after run (scoring runs in the scoring child process, jobs/score_job.py: the first run
includes spawning it, its torch import and loading the model, later runs reuse it; the playing
video's name is mapped to demo_1's features, so each run also stores its predictions and
redraws the timeline's curves in the UI thread). A 5 ms QTimer records the gaps between its
firings and the UI thread's CPU time within each gap; an idle phase of the same window (paused,
no scoring) first gives the machine's own noise. It also reports whether torch was imported in
the window's process. `--only scoring` runs this section alone.
Launch: launch-to-first-paint of `sdanet-gui` in fresh interpreters (benchmarks/startup.py's probe).
Drift: a generated 30 fps video (OpenCV, 160x90) of --drift-seconds is played at 1x; at the end
the player's position is compared with the monotonic time elapsed since Play (and the frame
actually shown with the position).

    QT_QPA_PLATFORM=offscreen python benchmarks/ui.py [--steps 60] [--snippets 20000] [--classes 20]
        [--seeks 40] [--video PATH] [--stall-seconds 8] [--scoring-seconds 10] [--launches 5]
        [--drift-seconds 20] [--only scoring|panzoom]   (--drift-seconds 600 = the issue's 10 minutes)
The machine's load average is printed next to every figure (wall times include waiting for a CPU).
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time

import numpy as np

from event_loop import GapProbe, process_until


def build_timeline(classes: int, snippets: int):
    from sdanet_gui.ui.review.kinds import KINDS
    from sdanet_gui.ui.review.timeline import TimelineWidget

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


def time_settle(app, w, paints) -> tuple[float, float]:
    """The exact redraw once the view has been still, which the items spread over several
    repaints (ui/render_budget.py): (longest single turn of the event loop, all turns) in ms.
    A turn is one `processEvents()` (timers fire, the items update, Qt paints), plus a synchronous
    repaint only when Qt painted nothing, as in time_steps."""
    from sdanet_gui.ui.review.render_budget import BUDGET
    from sdanet_gui.ui.review.score_curves import SETTLE_MS

    end = time.monotonic() + 2 * SETTLE_MS / 1000
    while time.monotonic() < end:
        time.sleep(0.005)
    turns, quiet = [], 0
    for _ in range(200):
        before = (BUDGET.deferred, BUDGET.charges)
        count = paints.count
        t0 = time.perf_counter()
        app.processEvents()  # timers fire: items re-render (or put it off to the next turn)
        if paints.count == count:
            w.viewport().repaint()
        turns.append((time.perf_counter() - t0) * 1000)
        quiet = quiet + 1 if (BUDGET.deferred, BUDGET.charges) == before else 0
        if quiet == 3:
            break  # three turns without rendering or putting off: the exact redraw is complete
    return max(turns), sum(turns[:-3])


def bench_seek(app, video: str, seeks: int) -> list[float]:
    from PySide6.QtCore import QPoint, Qt
    from PySide6.QtTest import QTest

    from sdanet_gui.media.reader import open_video
    from sdanet_gui.ui.review.review_view import ReviewView

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
    from sdanet_gui.ui.review.review_view import ReviewView

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
    from sdanet_gui.media.reader import open_video
    from sdanet_gui.ui.review.review_view import ReviewView

    reader = open_video(video)
    view = ReviewView()
    view.resize(1280, 800)
    view.show()
    view.show_video(reader)
    dense, _ = build_timeline(classes, snippets)  # borrow its data: same scores and lanes
    dur = reader.clock.duration
    times, scores, att = dense.scores
    scale = dur / dense.duration
    view.timeline.set_classes(dense.classes)
    view.timeline.set_scores(times * scale, scores, att)
    for r, lane in enumerate(dense.lanes):
        view.timeline.lane(r).set_segments(lane.ids, lane.starts * scale, lane.ends * scale,
                                           lane.scores, lane.kinds)
    view.timeline.set_duration(dur)
    dense.close()
    process_until(app, lambda: view.player.shown_frame == 0, 10)
    probe = GapProbe(5)
    probe.start()
    process_until(app, lambda: False, seconds / 2)  # control: the same window, idle (machine noise)
    idle = list(probe.wall)
    probe.reset()
    view.player.play()
    process_until(app, lambda: False, seconds)
    probe.stop()
    view.player.pause()
    view.close_video()
    reader.close()
    return probe.wall, idle


def load() -> str:
    """The 1-minute load average and the CPU count, to print next to each figure."""
    return f"[load {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs]"


def bench_launch(runs: int) -> list[float]:
    """Launch-to-first-paint of the real entry point, seconds per fresh interpreter."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("_startup_bench", os.path.join(os.path.dirname(__file__),
                                                                               "startup.py"))
    startup = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(startup)
    env = dict(os.environ)
    env.setdefault("QT_QPA_PLATFORM", "offscreen")
    startup.launch_once(env)  # warm the OS file cache; not counted
    return [startup.launch_once(env)[0] for _ in range(runs)]


MIN_SCORING_RUNS = 3


def bench_scoring_stall(app, video: str, seconds: float) -> dict:
    """Event-loop gaps while the main window plays `video` at 1x and the demo checkpoint scores the
    demo features over and over in the scoring child (see the module docstring)."""
    import tempfile
    from pathlib import Path

    os.environ.setdefault("SDANET_GUI_HOME", tempfile.mkdtemp(prefix="sdanet-bench-home-"))
    from sdanet_gui.bundled import model_files, resource_files
    from sdanet_gui.ui.shell.main_window import MainWindow

    checkpoint = Path(str(model_files() / "demo.pt"))
    feats = Path(str(resource_files() / "demo" / "features"))
    w = MainWindow()
    w.resize(1280, 800)
    w.show()
    w.open_paths([video])
    process_until(app, lambda: w.review is not None and w.review.player.shown_frame == 0, 20)
    name = w.project.video(w.current_video_id).name
    features = {name: feats / "demo_1.h5", "demo_2": feats / "demo_2.h5", "demo_3": feats / "demo_3.h5"}
    probe = GapProbe(5)
    probe.start()
    process_until(app, lambda: False, min(3.0, seconds / 3))  # idle control: same window, paused
    idle = (list(probe.wall), list(probe.cpu))
    runs = [0]

    def again():
        if time.monotonic() < end or runs[0] < MIN_SCORING_RUNS:
            runs[0] += 1
            w.session.score(checkpoint, features)

    w.review.player.set_loop((0, w.review.player.frame_count))  # plays on for the whole phase
    w.review.player.play()
    probe.reset()
    end = time.monotonic() + seconds
    w.session.score(checkpoint, features)
    runs[0] = 1
    w.session.events.scoring_finished.connect(again)
    first_done = [None]
    w.session.events.scoring_finished.connect(lambda: first_done[0] is None and first_done.__setitem__(0, len(probe.wall)))
    process_until(app, lambda: time.monotonic() >= end and runs[0] >= MIN_SCORING_RUNS and not w.session.scoring_busy(),
                  seconds + 120)
    probe.stop()
    w.review.player.pause()
    gaps, cpu = probe.wall, probe.cpu
    k = first_done[0] or len(gaps)
    w.close()
    return {"gaps": gaps, "cpu": cpu, "idle": idle, "runs": runs[0], "first_run_ticks": k,
            "applied": name in w.session.scored_videos(), "torch_in_window": "torch" in sys.modules}


def report_scoring_stall(app, args) -> None:
    """Run bench_scoring_stall and print its figures (also `--only scoring`)."""
    r = bench_scoring_stall(app, args.video, args.scoring_seconds)
    gaps, cpu, k = np.asarray(r["gaps"]), np.asarray(r["cpu"]), r["first_run_ticks"]
    i = int(np.argmax(gaps))
    igaps = np.asarray(r["idle"][0])
    print(f"UI stall while playing {os.path.basename(args.video)} at 1x in the main window and "
          f"scoring the demo features ({r['runs']} scoring runs in {args.scoring_seconds:.0f} s, "
          f"predictions stored: {r['applied']}): longest gap {gaps[i]:.1f} ms (UI-thread CPU in it "
          f"{cpu[i]:.1f} ms), p99 {np.percentile(gaps, 99):.1f} ms; first run (torch import + "
          f"model load) max {gaps[:k].max():.1f} ms, later runs max "
          f"{(gaps[k:].max() if k < len(gaps) else float('nan')):.1f} ms, p99 "
          f"{(np.percentile(gaps[k:], 99) if k < len(gaps) else float('nan')):.1f} ms; gaps over 50 ms: "
          f"{int((gaps > 50).sum())} of {len(gaps)}; most UI-thread CPU in one gap "
          f"{cpu.max():.1f} ms; same window idle: max {igaps.max():.1f} ms; torch imported in the "
          f"window's process: {r['torch_in_window']} {load()}")


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
    ap.add_argument("--scoring-seconds", type=float, default=10.0)
    ap.add_argument("--launches", type=int, default=5)
    ap.add_argument("--only", choices=("scoring", "panzoom"), default=None,
                    help="run only this section (scoring: the stall while scoring; panzoom: the "
                         "timeline pan/zoom frame times)")
    args = ap.parse_args()
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from PySide6.QtWidgets import QApplication

    app = QApplication.instance() or QApplication(sys.argv[:1])
    if args.only == "scoring":
        print(f"load average before: {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs")
        report_scoring_stall(app, args)
        return 0
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
          f"{'CPU p95':>8} {'settle: longest turn / all ms':>30}")
    worst = worst_cpu = worst_settle = 0.0
    for label, width in (("whole video", duration), ("1/10 of video", duration / 10),
                         ("60 s", 60.0), ("10 s", 10.0)):
        cpu: list[float] = []
        ms = time_steps(app, w, width, args.steps, paints, cpu)
        p95, cpu95 = float(np.percentile(ms, 95)), float(np.percentile(cpu, 95))
        worst, worst_cpu = max(worst, p95), max(worst_cpu, cpu95)
        settle, settle_all = time_settle(app, w, paints)
        worst_settle = max(worst_settle, settle)
        print(f"{label + f' ({width:.0f} s)':>22} {statistics.median(ms):>10.2f} {p95:>8.2f} {max(ms):>8.2f}"
              f" {statistics.median(cpu):>11.2f} {cpu95:>8.2f} {settle:>19.2f} / {settle_all:>8.2f}")
    print(f"load average after: {os.getloadavg()[0]:.1f}")
    print(f"worst p95 frame time {worst:.2f} ms wall, {worst_cpu:.2f} ms UI-thread CPU "
          f"(budget 16 ms): {'OK' if worst < 16 else 'OVER BUDGET (wall)'}; longest settle turn "
          f"{worst_settle:.2f} ms (stall budget 50 ms): {'OK' if worst_settle < 50 else 'OVER BUDGET'}")
    w.close()
    if args.only == "panzoom":
        return 0

    if args.seeks > 0 and os.path.exists(args.video):
        ms = bench_seek(app, args.video, args.seeks)
        print(f"seek click -> frame painted on {os.path.basename(args.video)}: "
              f"p50 {np.percentile(ms, 50):.1f} ms, p95 {np.percentile(ms, 95):.1f} ms, "
              f"max {max(ms):.1f} ms over {len(ms)} random clicks {load()}")
    if args.stall_seconds > 0 and os.path.exists(args.video):
        gaps, idle = bench_stall(app, args.video, args.stall_seconds, args.classes, args.snippets)
        print(f"UI stall while playing {os.path.basename(args.video)} at 1x with the "
              f"{args.classes}x{args.snippets} timeline: event-loop gap p99 "
              f"{np.percentile(gaps, 99):.1f} ms, max {max(gaps):.1f} ms (5 ms timer, "
              f"{len(gaps)} ticks; budget: no stall over 50 ms); same window idle: p99 "
              f"{np.percentile(idle, 99):.1f} ms, max {max(idle):.1f} ms {load()}")
    if args.scoring_seconds > 0 and os.path.exists(args.video):
        report_scoring_stall(app, args)
    if args.launches > 0:
        t = bench_launch(args.launches)
        print(f"launch to first paint of the window: median {statistics.median(t) * 1000:.0f} ms "
              f"(min {min(t) * 1000:.0f}, max {max(t) * 1000:.0f}, {len(t)} launches; budget 1500 ms) {load()}")
    if args.drift_seconds > 0:
        print(f"playback drift: playing {args.drift_seconds:.0f} s ... {load()}", flush=True)
        elapsed, drift, lag = bench_drift(app, args.drift_seconds)
        print(f"playback drift after {elapsed:.1f} s at 1x (generated 30 fps video): position - "
              f"elapsed = {drift * 1000:+.1f} ms; shown frame behind position by {lag * 1000:.0f} ms "
              f"{load()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
