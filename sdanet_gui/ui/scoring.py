"""Score videos with an SDANet checkpoint in a child process, results as Qt signals.

`ScoringWorker.start(checkpoint, {video_name: feature_file})` hands the run to the scoring child
(`project.score_job.ScoreProcess`: it imports torch, loads the checkpoint, reads each video's
feature file, runs the network on the whole video and localizes segments) and reports each video
as it is done through queued Qt signals: `scored(VideoResult)`, `progress(done, total)`,
`failed(message)`, `finished()` (always last). `cancel()` is checked between videos.

Why a child process and not a thread: torch's import and its forward passes hold the GIL, which
froze the UI thread for 200+ ms on the first run (DESIGN.md: a stall over 50 ms is a bug). The
window's process never imports torch for scoring. The child is spawned lazily by the first run,
reused by later ones (no second spawn or import), and stopped by `shutdown()` (the window's
close, the application's aboutToQuit). A child that dies (killed, crashed) ends its run with
`failed("... the scoring process stopped unexpectedly (signal N, NAME) ...")` and `finished`;
the next run spawns a fresh one.

One relay thread per worker (a plain Python thread, started by the first run; not the UI
thread) spawns the child when needed and waits on its pipe; it only relays messages, handing
results to the UI thread one at a time. The worker never touches the project store (its SQLite
connection belongs to the UI thread): the window writes the predictions it receives.
"""

from __future__ import annotations

import logging
import queue
import threading
from dataclasses import dataclass, field
from pathlib import Path

from PySide6.QtCore import QCoreApplication, QObject, Qt, Signal

log = logging.getLogger(__name__)

POLL_S = 0.2           # how long one wait on the child's pipe may last (a message ends it at once)
STOP_TIMEOUT_S = 0.25  # shutdown: how long an idle child may take to quit before it is killed


@dataclass
class VideoResult:
    """One scored video. cas [T, C+1] logits, attention [T], modality_attention [T, M] or None;
    segments in seconds."""

    name: str
    cas: object
    attention: object
    spec: object                      # units.FeatureSpec of the features
    classes: list[str]
    segments: list = field(default_factory=list)  # data.structures.Segment, seconds
    model_name: str = ""
    checkpoint: str = ""
    params: object = None             # sdanet.localization.PostProcessing that made `segments`
    # [T, M] per-modality attention in 0..1, columns in spec.modalities order (rgb, flow, ...);
    # None when the model did not report it (the review queue then ranks without that term)
    modality_attention: object = None


class ScoringWorker(QObject):
    scored = Signal(object)
    progress = Signal(int, int)
    failed = Signal(str)
    finished = Signal()

    def __init__(self, parent=None):
        super().__init__(parent)
        self._relay = _Relay()
        queued = Qt.ConnectionType.QueuedConnection
        for name in ("progress", "failed"):
            getattr(self._relay, name).connect(getattr(self, name), queued)
        self._relay.scored.connect(self._deliver, queued)
        self._delivered = threading.Event()
        self._relay.finished.connect(self._finished, queued)
        self._runs: queue.SimpleQueue = queue.SimpleQueue()  # (run, checkpoint, features); None ends
        self._thread: threading.Thread | None = None         # the relay thread, started on first use
        self._busy = False
        self._process = None          # score_job.ScoreProcess, spawned by the first run
        self._run = 0                 # id of the latest run
        self._cancel_run = 0          # id of the run asked to stop (0: none)
        self._closing = False
        app = QCoreApplication.instance()
        if app is not None:
            app.aboutToQuit.connect(self.shutdown)

    @property
    def pid(self) -> int | None:
        """The scoring child's process id (None before the first run / after shutdown)."""
        proc = self._process
        return proc.pid if proc is not None else None

    def busy(self) -> bool:
        """True from start() until `finished` reaches the UI thread (after every result)."""
        return self._busy

    def _deliver(self, result) -> None:
        try:
            self.scored.emit(result)
        finally:
            self._delivered.set()

    def _finished(self, run: int) -> None:
        if run == self._run:     # not an earlier run that ended late (after a shutdown)
            self._busy = False   # before "finished": its handlers may start the next run
        self.finished.emit()

    def start(self, checkpoint, features: dict[str, Path]) -> None:
        """Never blocks: the run is queued for the relay thread (started once; starting a
        thread per run made the UI thread wait for the new thread to be scheduled)."""
        if self.busy():
            raise RuntimeError("scoring is already running")
        self._closing = False
        self._busy = True
        self._run += 1
        if self._thread is None or not self._thread.is_alive():
            self._runs = queue.SimpleQueue()
            self._thread = threading.Thread(target=self._relay_loop, args=(self._runs,),
                                            name="sdanet-scoring-relay", daemon=True)
            self._thread.start()
        self._runs.put((self._run, Path(checkpoint), dict(features)))

    def cancel(self) -> None:
        """Stop the running run before its next video; it still ends with `finished`."""
        self._cancel_run = self._run
        proc = self._process
        if proc is not None:
            proc.cancel(self._run)

    def shutdown(self) -> None:
        """Stop the child (window closing, application quitting): it quits at once when idle,
        is killed after STOP_TIMEOUT_S when busy. A later start() spawns a new one."""
        busy = self.busy()
        self._closing = True
        proc, self._process = self._process, None
        if proc is not None:    # a busy child is killed at once: it writes nothing, loses nothing
            proc.stop(0 if busy else STOP_TIMEOUT_S)
        thread, self._thread = self._thread, None
        if thread is not None:
            self._runs.put(None)
            thread.join(POLL_S * 5)
        self._busy = False   # the run's own "finished" is still on its way

    # --- the relay thread --------------------------------------------------------------------
    def _relay_loop(self, runs: queue.SimpleQueue) -> None:
        while True:
            item = runs.get()
            if item is None:
                return
            self._relay_run(*item)

    def _relay_run(self, run: int, checkpoint: Path, features: dict) -> None:
        try:
            self._score(run, checkpoint, features)
        except Exception as exc:  # noqa: BLE001 - reported as a dialog, the window lives on
            log.exception("scoring with %s failed", checkpoint)
            self._relay.failed.emit(f"{checkpoint}: scoring failed ({type(exc).__name__}: {exc})")
        finally:
            self._relay.finished.emit(run)

    def _score(self, run: int, checkpoint: Path, features: dict) -> None:
        from ..project.child_process import child_threads, exit_description
        from ..project.score_job import FINISHED, ScoreProcess

        proc = self._process
        if proc is None or not proc.is_alive():
            if proc is not None:
                proc.stop(0)
            try:
                proc = ScoreProcess.spawn(threads=child_threads())
            except OSError as exc:
                self._relay.failed.emit(f"{checkpoint}: cannot start the scoring process ({exc})")
                return
            if self._closing:
                proc.stop(0)
                return
            self._process = proc
        proc.submit(run, checkpoint, features)
        if self._cancel_run == run:
            proc.cancel(run)
        while True:
            msg = proc.poll(POLL_S)
            if msg is None:
                if self._closing:
                    return
                continue
            kind = msg.get("type")
            if kind == "died":
                stopped_by_us = self._closing or self._process is not proc   # shutdown()
                if self._process is proc:
                    self._process = None
                if not stopped_by_us:
                    self._relay.failed.emit(
                        f"{checkpoint}: scoring stopped: the scoring process stopped unexpectedly "
                        f"({exit_description(msg.get('exitcode'))}); the scores received so far are "
                        "kept, start scoring again to retry")
                return
            if msg.get("run") != run:   # a late message of an earlier run
                continue
            if kind == "result":
                self._hand_over(_video_result(msg))
            elif kind == "progress":
                self._relay.progress.emit(int(msg["done"]), int(msg["total"]))
            elif kind == "failed":
                self._relay.failed.emit(str(msg.get("message")))
            elif kind == FINISHED:
                return


    def _hand_over(self, result: VideoResult) -> None:
        """Emit one result and wait until the UI thread has handled it. Handling a result (store
        the predictions, cache the scores, redraw) costs the UI thread ~30 ms; results queued
        back to back would be handled in one go, a stall of N x 30 ms. One at a time, the event
        loop gets a turn between any two."""
        self._delivered.clear()
        self._relay.scored.emit(result)
        while not self._delivered.wait(0.05):
            if self._closing:
                return


def _video_result(msg: dict) -> VideoResult:
    from ..data.units import FeatureSpec
    from ..sdanet.localization import PostProcessing

    return VideoResult(msg["name"], msg["cas"], msg["attention"], FeatureSpec.from_dict(msg["spec"]),
                       list(msg["classes"]), list(msg["segments"]), msg["model_name"],
                       msg["checkpoint"], PostProcessing.from_dict(msg["params"]),
                       modality_attention=msg.get("modality_attention"))


class _Relay(QObject):
    scored = Signal(object)
    progress = Signal(int, int)
    failed = Signal(str)
    finished = Signal(int)   # the run's id
