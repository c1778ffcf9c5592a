"""The UI thread never blocks longer than 50 ms while a video plays and scores are computed
(issue 6, section 7), measured as event-loop latency with a fine QTimer.

Set-up, all real: the main window plays a real sample video (copied into tmp_path) at 1x while
the bundled demo checkpoint scores two bundled demo feature files in the scoring child (jobs/scoring.py), run after
run; the playing video's name is mapped to demo_1's features, so every run also stores
predictions in the project and redraws the timeline's score curves in the UI thread. A 2 ms
PreciseTimer records each gap between its firings (wall clock) and the UI thread's CPU time
within that gap.

What is asserted, and why it can fail for a real reason on a shared 2-core CI machine:
1. UI-thread CPU within any single gap <= 50 ms. CPU time is what the UI thread itself spent
   working, which machine load hardly inflates (waiting for a CPU is not counted): scoring,
   reading features or loading the model in the UI thread, or a slow apply-the-scores step,
   fails this on any machine.
2. The longest wall-clock gap <= 50 ms x s + q, both measured in this test: s = the median
   slowdown of a fixed CPU-bound chunk run in the UI thread every ~250 ms DURING the busy phase
   (wall / CPU time: 1 when the UI thread has a core to itself; it includes what the machine's
   other processes, our own decoding and torch threads, and ordinary GIL sharing take from it;
   the chunks' own time is left out of the gaps), and q = the longest gap of the same window's
   idle loop just before and after (paused, nothing scoring). The 50 ms budget is for a UI thread
   with a core of its own; s scales it to the share it really gets, q adds the machine's own
   hiccups. A worker that holds the GIL for long (a C call that does not release it, like the
   first import of torch: ~1 s) blocks the UI thread without using its CPU: check 1 does not see
   that, this one does.
A warm-up scoring run comes first: the first import of torch holds the GIL for about a second
and the first result imports the engine's modules in the UI thread (one-off stalls, measured and
reported by benchmarks/ui.py); this test covers steady-state playing + scoring. Both checks must
hold in one of two attempts: a real stall reproduces, a load spike of the machine rarely does.
Measured while writing this (2 cores, load average 15-20): applying one scored video in the UI
thread (the session stores predictions and caches scores with fsync; the window draws curves and
the review queue) costs 30-45 ms of UI-thread CPU, close to the budget: if check 1 fails, look
there first.
"""

from __future__ import annotations

import shutil
import time
from pathlib import Path

import numpy as np
from PySide6.QtCore import QTimer

from benchmarks.event_loop import GapProbe

VIDEO = "video_features__v_ZNVhz7ctTq0.mp4"  # 14 s, 30 fps, 480x360 H.264
INTERVAL_MS = 2
BUDGET_MS = 50.0


def chunk_ratio() -> float:
    """Wall / CPU time of a fixed CPU-bound chunk (~15 ms on an idle machine, longer than a
    scheduler time slice, so a loaded machine preempts it) run in the UI thread: 1 when the UI
    thread has a core to itself, k when it gets 1/k of one."""
    w0, c0 = time.perf_counter(), time.thread_time()
    x = 0
    for i in range(400_000):
        x += i * i
    return max(1.0, (time.perf_counter() - w0) / max(time.thread_time() - c0, 1e-6))


def quiet_baseline(qtbot, probe: GapProbe, seconds: float) -> float:
    """The longest gap (ms) of the idle event loop: the window as it is now, paused, no scoring."""
    probe.reset()
    qtbot.wait(int(seconds * 1000))
    return max(probe.wall)


def busy_phase(qtbot, window, probe: GapProbe, checkpoint, features, seconds: float = 2.0) -> dict:
    """Play at 1x and score `features` run after run (at least 2 runs, at least `seconds`).
    Calibration chunks (250 ms apart) measure the UI thread's CPU availability meanwhile; their
    own time is left out of the gaps."""
    player = window.review.player
    runs, finished, ratios = [0], [0], []

    def calibrate():
        probe.tick()  # the gap up to now counts; the chunk's own time does not
        ratios.append(chunk_ratio())
        probe.resume()
        calibration.start()  # the next one 250 ms after this one ended

    calibration = QTimer()
    calibration.setSingleShot(True)
    calibration.setInterval(250)
    calibration.timeout.connect(calibrate)
    busy_until = time.monotonic() + seconds

    def run_again():
        finished[0] += 1
        if time.monotonic() < busy_until or finished[0] < 2:
            assert window.session.score(checkpoint, features)
            runs[0] += 1

    shown = []
    player.frame_shown.connect(shown.append)
    player.set_loop((0, player.frame_count))  # plays on however long the phase takes
    probe.reset()
    t0 = time.monotonic()
    player.play()
    assert window.session.score(checkpoint, features)
    runs[0] = 1
    window.session.events.scoring_finished.connect(run_again)
    calibration.start()
    qtbot.waitUntil(lambda: finished[0] == runs[0] and finished[0] >= 2 and time.monotonic() >= busy_until,
                    timeout=60000)
    window.session.events.scoring_finished.disconnect(run_again)
    calibration.stop()
    out = {"slowdown": float(np.median(ratios)) if ratios else 1.0, "wall": np.asarray(probe.wall),
           "cpu": np.asarray(probe.cpu), "proc": np.asarray(probe.proc), "runs": runs[0],
           "seconds": time.monotonic() - t0, "frames": len(shown), "playing": player.playing}
    player.frame_shown.disconnect(shown.append)
    player.pause()
    player.set_loop(None)
    player.seek_frame(0)
    qtbot.waitUntil(lambda: player.shown_frame == 0, timeout=5000)
    return out


def test_the_ui_thread_does_not_stall_while_a_video_plays_and_scores_are_computed(
        qtbot, window, shared_data, tmp_path):
    import torch

    from sdanet_gui.bundled import model_files, resource_files

    torch.set_num_threads(2)
    video = tmp_path / VIDEO
    shutil.copyfile(shared_data / "videos" / VIDEO, video)
    window.open_paths([video])
    qtbot.waitUntil(lambda: window.review is not None and window.review.player.shown_frame == 0, timeout=20000)
    name = window.project.video(window.current_video_id).name
    feats = Path(str(resource_files() / "demo" / "features"))
    features = {name: feats / "demo_1.h5", "demo_2": feats / "demo_2.h5"}
    checkpoint = Path(str(model_files() / "demo.pt"))
    # warm-up run: first-use imports (torch, the engine, the score cache) are one-off costs that
    # benchmarks/ui.py measures; this test covers steady-state playing + scoring
    assert window.session.score(checkpoint, features)
    qtbot.waitUntil(lambda: name in window.session.scored_videos() and not window.session.scoring_busy(), timeout=60000)

    probe = GapProbe(INTERVAL_MS)
    probe.start()
    reports, ok = [], False
    for attempt in range(2):  # a real stall shows in both attempts; a load spike rarely does twice
        q1 = quiet_baseline(qtbot, probe, 0.5)
        busy = busy_phase(qtbot, window, probe, checkpoint, features)
        q2 = quiet_baseline(qtbot, probe, 0.5)
        wall, cpu = busy["wall"], busy["cpu"]
        # it really played (frames painted all along, at least 5 a second even on a loaded machine)
        # and really scored
        assert busy["playing"] and busy["frames"] >= 5 * busy["seconds"], busy
        assert name in window.session.scored_videos() and window.session.result(name).cas.shape[0] == 70
        assert len(wall) >= 5  # the probe ran through the phase
        q, s = max(q1, q2), busy["slowdown"]
        i = int(np.argmax(wall))
        reports.append(
            f"attempt {attempt + 1}: longest gap {wall[i]:.1f} ms (UI-thread CPU in it {cpu[i]:.1f} ms, all "
            f"threads {busy['proc'][i]:.1f} ms), most "
            f"UI-thread CPU in one gap {cpu.max():.1f} ms, {int((wall > BUDGET_MS).sum())} of {len(wall)} gaps "
            f"over {BUDGET_MS:.0f} ms; quiet loop longest gap {q:.1f} ms, UI-thread slowdown while busy "
            f"{s:.2f}, wall budget "
            f"{BUDGET_MS * s + q:.0f} ms; {busy['runs']} scoring runs in {busy['seconds']:.1f} s")
        if cpu.max() <= BUDGET_MS and wall.max() <= BUDGET_MS * s + q:
            ok = True
            break
    probe.stop()
    print("\n".join(reports))
    assert window.project.predicted_segments(window.current_video_id)
    assert ok, "\n".join(reports)
