"""One fine-tuning run as a job: in-process (`run_job`) or in a spawned child (`start_job`).

Why it exists: the GUI must keep working while a run trains for minutes, survive the run
crashing, running out of memory or being killed, and let the user Stop (keep the weights so
far) or Cancel (discard). So the run lives in a separate process that talks only through plain
JSON-able message dicts, and everything the GUI needs to know — including a failure — arrives
as a message. `sdanet finetune --project` runs the very same `run_job` in-process, so the GUI
and the command line train identically.

The same job runs a cold start (`base_checkpoint` None: a model trained from nothing on the
manifest with `sdanet.finetune.cold_start_config`, measured against `compare_checkpoint`, the
model in use, when there is one).

Messages, in order (see /work/briefs/finetune_interface.md, the contract with the GUI):
  {"type": "started", "device", "amp", "steps", "train_videos", "held_out", "replay_videos",
   "classes", "new_classes", "cold_start", "held_out_segments", ...}
  {"type": "eval", "phase": "before", "average_mAP", "mAP", "per_class"}
  {"type": "progress", "step", "total", "losses": {"total", <term>...}, "lr", "snippets_per_s",
   "eta_s"}                      (throttled to <= 5/s; the first and the last step always sent)
  {"type": "eval", "phase": "after", ...}
  and exactly one final message: "done" / "cancelled" / "failed" (kind nan | oom | disk |
  input | crash). A "failed" may come at any point, also before "started" (bad input).

Guarantees: the base checkpoint is only read; a file exists at `out_checkpoint` only after
"done" (written atomically, and an existing file there is refused up front, never replaced);
on failed/cancelled nothing is there. This module never writes to the project database and,
at import time, imports neither torch nor Qt (the GUI imports it at start-up).
"""

from __future__ import annotations

import errno
import math
import multiprocessing
import os
import queue as queue_module
import signal
import time
import traceback
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Callable

from .child_process import exit_description

FINAL_TYPES = ("done", "cancelled", "failed")
FAILURE_KINDS = ("nan", "oom", "disk", "input", "crash")
PROGRESS_INTERVAL_S = 0.2          # at most 5 progress messages per second
_DISK_ERRNOS = {errno.ENOSPC, errno.EROFS, errno.EDQUOT, errno.EACCES, errno.EPERM}
_STAYS = "the previous model stays active"
REPLAY_AUTO = "auto"   # request.replay: the base's own training set when its checkpoint records one


@dataclass
class FinetuneRequest:
    manifest: str            # path of a frozen manifest JSON (freeze_manifest(...).write(path))
    base_checkpoint: str | None   # the checkpoint to fine-tune; None: a cold start
    out_checkpoint: str      # where the new checkpoint goes (inside project.checkpoints_dir)
    steps: int = 100
    lr: float | None = None
    seed: int = 0
    holdout: float = 0.2
    snippet_weight: float = 1.0
    replay: str | None = None    # base training feature set path, REPLAY_AUTO, or None
    device: str | None = None    # None = auto (CUDA + AMP when present)
    threads: int | None = None   # CPU threads for torch in the run (None: torch's default)
    compare_checkpoint: str | None = None   # cold start: the model in use, for "before"

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> "FinetuneRequest":
        names = {f.name for f in fields(cls)}
        unknown = sorted(set(d) - names)
        if unknown:
            raise ValueError(f"unknown fine-tuning request fields: {', '.join(unknown)}")
        return cls(**{k: v for k, v in d.items() if k in names})


# --- the run --------------------------------------------------------------------------------
def run_job(request: FinetuneRequest, send: Callable[[dict], None], stop_event, cancel_event) -> None:
    """Run one fine-tuning in this process, reporting only through `send(message)`.

    Never raises for a failure of the run itself: every outcome ends with exactly one final
    message (done / cancelled / failed). `stop_event` / `cancel_event`: anything with is_set()
    (threading or multiprocessing Events). Stop ends training after the current step and still
    evaluates and writes the checkpoint ("done" with stopped=True); Cancel writes nothing.

    Provoking a non-finite loss in a test (a real divergence, no fault injection): a request
    with lr=1e30 on the synthetic data. Adam moves every weight by about lr in its first step,
    the forward pass of step 2 overflows and the loss is NaN, so the trainer raises
    TrainingDiverged at step 2 and the job ends with {"type": "failed", "kind": "nan"} and no
    checkpoint (tests/finetune/test_finetune_job.py checks exactly that).
    """
    written: list[Path] = []
    try:
        _run(request, send, stop_event, cancel_event, written)
    except BaseException as exc:  # noqa: BLE001 - every outcome becomes a final message
        for path in written:      # written, but "done" could not be sent: take it back
            _remove(path)
        final = _final_for(exc, request)
        try:
            send(final)
        finally:
            if isinstance(exc, (KeyboardInterrupt, SystemExit)):
                raise


def _run(request: FinetuneRequest, send, stop_event, cancel_event, written: list) -> None:
    from ..errors import Cancelled, UserError
    from ..project.manifest import Manifest

    base = Path(request.base_checkpoint) if request.base_checkpoint else None
    out = Path(request.out_checkpoint)
    if base is not None and not base.is_file():
        raise UserError(f"{base}: base checkpoint not found", path=base)
    if out.exists() or (base is not None and out.resolve() == base.resolve()):
        raise UserError(f"{out}: a file already exists there; the new checkpoint needs a new "
                        f"file name (nothing is ever overwritten)", path=out)
    _check_writable(out)
    manifest = Manifest.read(request.manifest)

    if request.threads:
        import torch

        torch.set_num_threads(int(request.threads))
    from ..sdanet.checkpoint import load_checkpoint, save_checkpoint
    from ..sdanet.finetune import cold_start_config, finetune_videos, recorded_training_set
    from ..sdanet.trainer import StopFlag
    from .training_set import build_training_set

    classes, spec, replay = [], None, None
    if base is not None:
        _, meta = load_checkpoint(base)
        classes, spec = meta.classes, meta.feature_spec
        replay = recorded_training_set(meta) if request.replay == REPLAY_AUTO else request.replay
    ts = build_training_set(manifest, classes, spec, checkpoint=str(base) if base else None,
                            replay=replay, source=str(request.manifest))
    if not ts.videos:
        counts = ", ".join(f"{len(v)} {k.replace('_', ' ')}" for k, v in ts.skipped.items())
        raise UserError(f"{request.manifest}: nothing to train on: none of the "
                        f"{len(manifest.videos)} videos of the manifest has features and reviewed "
                        f"material ({counts or 'the manifest is empty'})", path=request.manifest)
    flag = StopFlag(stop_event, cancel_event)
    relay = _ProgressRelay(send)

    def events(msg: dict) -> None:
        if msg.get("type") == "started":
            msg = {**msg, "skipped": ts.skipped, "replay": replay}
        if msg.get("type") == "eval" and msg.get("phase") == "after":
            relay.flush()
        send(_jsonable(msg))

    result = finetune_videos(base, ts.feature_set, ts.videos, ts.reviewed_spans_s,
                             steps=request.steps, out=None, seed=request.seed, lr=request.lr,
                             snippet_weight=request.snippet_weight, holdout=request.holdout,
                             progress=relay, cancel=flag, device=request.device, replay=ts.replay,
                             replay_test=ts.replay_test, events=events,
                             config=cold_start_config(ts.feature_set.spec) if base is None else None,
                             compare_ckpt=request.compare_checkpoint,
                             info={"manifest": str(request.manifest),
                                   "manifest_fingerprint": manifest.fingerprint,
                                   "skipped": ts.skipped, "replay": replay})
    if flag.cancel_requested:
        raise Cancelled("fine-tuning cancelled; nothing was written")
    state = {k: v.detach().to("cpu") for k, v in result.model.state_dict().items()}
    try:
        save_checkpoint(out, state, result.meta)
    except RuntimeError as exc:   # torch's writer reports a full disk as RuntimeError
        raise OSError(errno.ENOSPC if "write" in str(exc).lower() else errno.EIO,
                      f"{out}: could not write the checkpoint ({exc})") from exc
    written.append(out)
    train_metrics = result.meta.metrics
    metrics = {**train_metrics["finetune"], "base_checkpoint": str(base) if base else None,
               "device": train_metrics.get("device"), "snippets_per_s": train_metrics.get("snippets_per_s"),
               "train_seconds": train_metrics.get("train_seconds"),
               "weights": result.weights_hash[:16]}
    send({"type": "done", "checkpoint": str(out), "stopped": bool(result.stopped),
          "metrics": _jsonable(metrics)})


class _ProgressRelay:
    """Trainer step dicts -> "progress" messages, at most one per PROGRESS_INTERVAL_S; the
    first step is sent at once, the latest held-back one by `flush()` (before "after")."""

    def __init__(self, send):
        self.send = send
        self.last_sent = -math.inf
        self.pending: dict | None = None

    def __call__(self, report: dict) -> None:
        if report.get("event") != "step":
            return
        msg = {"type": "progress", "step": int(report["step"]), "total": int(report["total"]),
               "losses": {"total": float(report["loss"]), **{k: float(v) for k, v in report["losses"].items()}},
               "lr": float(report["lr"]), "snippets_per_s": float(report["snippets_per_s"]),
               "eta_s": None if report.get("eta_s") is None else float(report["eta_s"])}
        now = time.monotonic()
        if msg["step"] == 1 or msg["step"] == msg["total"] or now - self.last_sent >= PROGRESS_INTERVAL_S:
            self.pending = None
            self.last_sent = now
            self.send(msg)
        else:
            self.pending = msg

    def flush(self) -> None:
        if self.pending is not None:
            msg, self.pending = self.pending, None
            self.last_sent = time.monotonic()
            self.send(msg)


def _check_writable(out: Path) -> None:
    """Fail before training, not after minutes of it, when the checkpoint cannot be written."""
    import tempfile

    from ..errors import UserError

    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{out.name}.", suffix=".probe", dir=out.parent)
        os.close(fd)
        os.unlink(tmp)
    except OSError as exc:
        if exc.errno == errno.ENOSPC:
            why = "the disk is full"
        elif exc.errno in _DISK_ERRNOS:
            why = f"the folder {out.parent} is not writable"
        elif exc.errno in (errno.EEXIST, errno.ENOTDIR):
            why = f"a file stands where the folder {out.parent} should be"
        else:
            why = f"cannot write there ({exc.strerror or exc})"
        raise UserError(f"{out}: cannot write the new checkpoint: {why}", path=out) from exc


def _remove(out: Path) -> None:
    try:
        out.unlink(missing_ok=True)
    except OSError:
        pass


def _final_for(exc: BaseException, request: FinetuneRequest) -> dict:
    from ..errors import Cancelled, UserError
    from ..sdanet.trainer import TrainingDiverged

    details = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))
    if isinstance(exc, Cancelled):
        return {"type": "cancelled"}
    if isinstance(exc, TrainingDiverged):
        return _failed("nan", f"{exc}; {_STAYS}", details)
    if _is_oom(exc):
        where = "the GPU" if "cuda" in str(exc).lower() else "memory"
        return _failed("oom", f"fine-tuning ran out of {where} ({_first_line(exc)}); try fewer "
                              f"videos, a smaller replay set or the CPU; {_STAYS}", details)
    os_error = exc if isinstance(exc, OSError) else exc.__cause__ if isinstance(exc.__cause__, OSError) else None
    if os_error is not None and os_error.errno in _DISK_ERRNOS:
        text = str(exc) if isinstance(exc, UserError) else \
            f"{request.out_checkpoint}: cannot write ({os_error.strerror or os_error})"
        return _failed("disk", f"{text}; {_STAYS}", details)
    if isinstance(exc, UserError):
        return _failed("input", f"{exc}; {_STAYS}", details)
    if isinstance(exc, OSError) and exc.errno in (errno.ENOSPC, errno.EIO):
        return _failed("disk", f"{exc}; {_STAYS}", details)
    return _failed("crash", f"fine-tuning failed with an internal error ({type(exc).__name__}: "
                            f"{_first_line(exc)}); {_STAYS}", details)


def _is_oom(exc: BaseException) -> bool:
    if isinstance(exc, MemoryError):
        return True
    try:
        import torch

        if isinstance(exc, torch.OutOfMemoryError):
            return True
    except (ImportError, AttributeError):
        pass
    text = str(exc).lower()
    return isinstance(exc, RuntimeError) and ("out of memory" in text or "can't allocate memory" in text)


def _failed(kind: str, message: str, details: str = "") -> dict:
    return {"type": "failed", "kind": kind, "message": " ".join(message.split()), "details": details}


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return (text.splitlines()[0] if text else type(exc).__name__)[:300]


def _jsonable(x):
    if isinstance(x, dict):
        return {str(k): _jsonable(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [_jsonable(v) for v in x]
    if isinstance(x, float) and not math.isfinite(x):
        return None
    if isinstance(x, (str, int, float, bool)) or x is None:
        return x
    return str(x)


# --- the child process ------------------------------------------------------------------------
def _child_main(request_dict: dict, messages, stop_event, cancel_event) -> None:
    """Entry point of the spawned child: run the job, then let the queue flush before exiting."""
    # The GUI's Ctrl+C / terminal signals belong to the GUI; the child ends through its events.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    run_job(FinetuneRequest.from_dict(request_dict), messages.put, stop_event, cancel_event)
    messages.close()
    messages.join_thread()


def start_job(request: FinetuneRequest) -> "FinetuneJob":
    """Start `run_job(request)` in a fresh 'spawn' child process and return its handle."""
    ctx = multiprocessing.get_context("spawn")
    messages = ctx.Queue()
    stop_event, cancel_event = ctx.Event(), ctx.Event()
    process = ctx.Process(target=_child_main, name="sdanet-finetune",
                          args=(request.to_dict(), messages, stop_event, cancel_event), daemon=True)
    process.start()
    return FinetuneJob(process, messages, stop_event, cancel_event)


class FinetuneJob:
    """Handle of a running child. Read its messages with `poll()` until a final one arrives."""

    def __init__(self, process, messages, stop_event, cancel_event):
        self._process = process
        self._messages = messages
        self._stop_event = stop_event
        self._cancel_event = cancel_event
        self._finished = False           # a final message (real or synthesized) was handed out
        self.pid: int = process.pid

    def poll(self, timeout: float = 0.0) -> dict | None:
        """The next message, or None. When the child died without a final message, yields one
        synthesized {"type": "failed", "kind": "crash", ...} naming its exit code or signal."""
        if self._finished:
            return None
        msg = self._get(timeout)
        if msg is None and not self._process.is_alive():
            msg = self._get(0.2)          # whatever the child flushed right before it ended
            if msg is None:
                self._process.join(1.0)
                msg = _failed("crash", f"the fine-tuning process {_ended(self._process.exitcode)} "
                                       f"without reporting a result; {_STAYS}")
        if msg is not None and msg.get("type") in FINAL_TYPES:
            self._finished = True
        return msg

    def _get(self, timeout: float) -> dict | None:
        try:
            if timeout and timeout > 0:
                return self._messages.get(timeout=timeout)
            return self._messages.get_nowait()
        except queue_module.Empty:
            return None
        except (EOFError, OSError, ValueError):   # the pipe broke with the child mid-message
            return None

    def stop(self) -> None:
        """Keep the weights so far: training ends after the current step, "done" (stopped=True)."""
        self._stop_event.set()

    def cancel(self) -> None:
        """Discard the run: no checkpoint is written; ends with "cancelled"."""
        self._cancel_event.set()

    def kill(self) -> None:
        """Hard kill (tests; the window closing). `poll` then synthesizes the "failed" message."""
        if self._process.is_alive():
            self._process.kill()
        self._process.join(5.0)

    def is_alive(self) -> bool:
        return self._process.is_alive()

    def join(self, timeout: float | None = None) -> None:
        self._process.join(timeout)

    @property
    def exitcode(self) -> int | None:
        return self._process.exitcode


def _ended(exitcode: int | None) -> str:
    if exitcode is None:
        return "stopped responding"
    if exitcode < 0:
        return f"was killed ({exit_description(exitcode)})"
    return f"ended with {exit_description(exitcode)}"
