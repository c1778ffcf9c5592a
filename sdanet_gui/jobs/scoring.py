"""Scoring runs for the review session: the scoring child does the work, results come back to the
owner's thread one video at a time, as typed `VideoResult`s.

`ScoringRunner(post, on_result=..., on_progress=..., on_failed=..., on_finished=...)`;
`start(checkpoint, {video_name: feature_file})` hands the run to the long-lived scoring child
(`score_job.ScoreProcess`: it imports torch, loads the checkpoint, reads each feature file, runs
the network and localizes). The callbacks run on the owner's thread through `post`: one
`on_result(VideoResult)` per video, `on_progress(done, total)`, `on_failed(message)` and always
last `on_finished()`. `cancel()` is checked between videos.

Why a child and a relay thread: torch's import and its forward passes hold the GIL; in a thread
of the window's process they froze the UI thread for 200+ ms (DESIGN.md: a stall over 50 ms is a
bug). The child is spawned by the first run, reused by later ones (no second spawn or import)
and stopped by `shutdown()`. A child that dies ends its run with `on_failed("... the scoring
process stopped unexpectedly (signal N, NAME) ...")` and `on_finished`; the next run spawns a
fresh one. The relay is a `background.Worker` task that waits on the child's pipe.

What it must never do: touch the project store (the session stores what it receives), import
torch or Qt.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Callable

from .background import Post, TaskContext, Worker

if TYPE_CHECKING:  # numpy and the engine are imported with the first result, not at start-up
    import numpy as np

    from ..data.structures import Segment
    from ..data.units import FeatureSpec
    from ..sdanet.localization import PostProcessing

log = logging.getLogger(__name__)

POLL_S = 0.2           # how long one wait on the child's pipe may last (a message ends it at once)
STOP_TIMEOUT_S = 0.25  # shutdown: how long an idle child may take to quit before it is killed


@dataclass
class VideoResult:
    """One scored video: the model's scores (kept for re-localization and the review queue) and
    the segments its checkpoint's post-processing made of them."""

    name: str
    cas: "np.ndarray"                 # float32 [T, C+1] class activation logits (last: background)
    attention: "np.ndarray"           # float32 [T] foreground attention in 0..1
    spec: "FeatureSpec"               # the snippet grid of the features
    classes: list[str]
    segments: "list[Segment]" = field(default_factory=list)   # seconds
    model_name: str = ""
    checkpoint: str = ""
    params: "PostProcessing | None" = None   # the post-processing that made `segments`
    # [T, M] per-modality attention in 0..1, columns in spec.modalities order (rgb, flow, ...);
    # None when the model did not report it (the review queue then ranks without that term)
    modality_attention: "np.ndarray | None" = None

    @classmethod
    def from_message(cls, msg: dict) -> "VideoResult":
        """A "result" message of the scoring child (score_job's protocol)."""
        from ..data.units import FeatureSpec
        from ..sdanet.localization import PostProcessing

        return cls(msg["name"], msg["cas"], msg["attention"], FeatureSpec.from_dict(msg["spec"]),
                   list(msg["classes"]), list(msg["segments"]), msg["model_name"], msg["checkpoint"],
                   PostProcessing.from_dict(msg["params"]),
                   modality_attention=msg.get("modality_attention"))


class ScoringRunner:
    """One scoring run at a time in the scoring child; see the module docstring."""

    def __init__(self, post: Post, *, on_result: Callable[[VideoResult], None],
                 on_progress: Callable[[int, int], None] | None = None,
                 on_failed: Callable[[str], None] | None = None,
                 on_finished: Callable[[], None] | None = None):
        self.on_result = on_result
        self.on_progress = on_progress or (lambda done, total: None)
        self.on_failed = on_failed or (lambda message: None)
        self.on_finished = on_finished or (lambda: None)
        self._worker = Worker(post, "sdanet-scoring-relay")
        self._process = None          # score_job.ScoreProcess, spawned by the first run
        self._busy = False
        self._run = 0                 # id of the latest run
        self._cancel_run = 0          # id of the run asked to stop (0: none)

    @property
    def pid(self) -> int | None:
        """The scoring child's process id (None before the first run / after shutdown)."""
        proc = self._process
        return proc.pid if proc is not None else None

    def busy(self) -> bool:
        """True from start() until on_finished has run (after every result)."""
        return self._busy

    def start(self, checkpoint, features: dict) -> None:
        """Never blocks: the run is queued for the relay thread."""
        if self._busy:
            raise RuntimeError("scoring is already running")
        self._busy = True
        self._run += 1
        run, checkpoint, features = self._run, Path(checkpoint), dict(features)
        self._worker.submit(lambda ctx: self._relay(ctx, run, checkpoint, features),
                            on_error=lambda exc: self.on_failed(
                                f"{checkpoint}: scoring failed ({type(exc).__name__}: {exc})"),
                            on_finished=lambda: self._finished(run))

    def cancel(self) -> None:
        """Stop the running run before its next video; it still ends with on_finished."""
        self._cancel_run = self._run
        proc = self._process
        if proc is not None:
            proc.cancel(self._run)

    def shutdown(self) -> None:
        """Stop the child (the window closing, the application quitting): it quits at once when
        idle and is killed after STOP_TIMEOUT_S when busy. A later start() spawns a new one."""
        busy = self._busy
        proc, self._process = self._process, None
        if proc is not None:    # a busy child is killed at once: it writes nothing, loses nothing
            proc.stop(0 if busy else STOP_TIMEOUT_S)
        self._worker.shutdown(POLL_S * 5)
        self._busy = False      # the run's own on_finished is still on its way

    def _finished(self, run: int) -> None:
        if run == self._run:    # not an earlier run that ended late (after a shutdown)
            self._busy = False  # before on_finished: it may start the next run
        self.on_finished()

    # --- the relay thread ---------------------------------------------------------------------
    def _relay(self, ctx: TaskContext, run: int, checkpoint: Path, features: dict) -> None:
        from .child_process import child_threads, exit_description
        from .score_job import FINISHED, ScoreProcess

        proc = self._process
        if proc is None or not proc.is_alive():
            if proc is not None:
                proc.stop(0)
            try:
                proc = ScoreProcess.spawn(threads=child_threads())
            except OSError as exc:
                ctx.send(self.on_failed, f"{checkpoint}: cannot start the scoring process ({exc})")
                return
            if ctx.closing():
                proc.stop(0)
                return
            self._process = proc
        proc.submit(run, checkpoint, features)
        if self._cancel_run == run:
            proc.cancel(run)
        while True:
            msg = proc.poll(POLL_S)
            if msg is None:
                if ctx.closing():
                    return
                continue
            kind = msg.get("type")
            if kind == "died":
                stopped_by_us = ctx.closing() or self._process is not proc   # shutdown()
                if self._process is proc:
                    self._process = None
                if not stopped_by_us:
                    ctx.send(self.on_failed,
                             f"{checkpoint}: scoring stopped: the scoring process stopped unexpectedly "
                             f"({exit_description(msg.get('exitcode'))}); the scores received so far are "
                             "kept, start scoring again to retry")
                return
            if msg.get("run") != run:   # a late message of an earlier run
                continue
            if kind == "result":
                ctx.hand_over(self.on_result, VideoResult.from_message(msg))
            elif kind == "progress":
                ctx.send(self.on_progress, int(msg["done"]), int(msg["total"]))
            elif kind == "failed":
                ctx.send(self.on_failed, str(msg.get("message")))
            elif kind == FINISHED:
                return
