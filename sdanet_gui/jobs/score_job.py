"""Scoring videos with an SDANet checkpoint in a long-lived child process.

Why it exists: torch's first import holds the GIL for hundreds of milliseconds, and a forward
pass plus localization in a thread of the window's process still competes with the UI thread
for the GIL (measured: a 200+ ms stall on the first run, ~50-65 ms on later ones). So the window's
process never imports torch for scoring: `ScoreProcess.spawn()` starts one child ('spawn'
context, never fork: a forked copy of a Qt process with threads is unsafe) that imports torch,
loads checkpoints and scores; the window talks to it only through two one-way pipes. The child
stays alive between runs (the next run pays neither the spawn nor the import; the last loaded
model is kept while its file is unchanged), and it ends when told to ("quit"), when the
window's end of its request pipe closes (the window's process died: no orphan), or when killed.
It runs at a lower CPU priority (child_process.lower_priority) with child_threads() torch
threads, so the UI thread keeps a core. As with any 'spawn' child, the child re-imports the
main script: a script that starts scoring must keep its work under `if __name__ == "__main__":`
(the `sdanet-gui` entry point, the benchmarks and the tests do).

Protocol (dicts, pickled by multiprocessing.Connection — pickle is fine here: both ends are our
own processes, started by us, and nothing else can write to these pipes; never use this for
data from elsewhere):
  parent -> child  {"type": "score", "run": int, "checkpoint": str, "features": {video: str}}
                   {"type": "quit"}
  child -> parent, for each run, in this order:
    per video      {"type": "result", "run", "name", "cas": float32 [T, C+1] logits,
                    "attention": float32 [T], "modality_attention": float32 [T, M] or None
                    (columns in spec.modalities order), "spec": FeatureSpec.to_dict(),
                    "classes": [str], "segments": [data.structures.Segment] (seconds),
                    "params": PostProcessing.to_dict(), "model_name": str, "checkpoint": str}
                   {"type": "progress", "run", "done": int, "total": int}
    on a failure   {"type": "failed", "run", "message": str}  (a UserError's text unchanged: it
                    names the file; anything else "<checkpoint>: scoring failed (Type: text)")
    always last    {"type": "finished", "run"}
  made by the parent when the child ended without "finished":
                   {"type": "died", "exitcode": int | None}
Cancel: the parent writes the run's id into a shared integer (`cancel`, lock-free, so a child
killed at any moment cannot leave a lock held); the child checks it between videos.

What it must never do: import torch or Qt in the window's process (torch is imported only in
`_child_main`), touch the project database, or write any file.
"""

from __future__ import annotations

import logging
import multiprocessing
import signal
from pathlib import Path
from typing import Callable

log = logging.getLogger(__name__)

FINISHED = "finished"


class ScoreProcess:
    """The window's handle on one scoring child. Not thread-safe: one relay thread calls
    submit/poll; `cancel` and `stop` may come from another thread (they only write a shared
    integer, send a message or signal the child)."""

    def __init__(self, process, requests, messages, cancel_value):
        self._process = process
        self._requests = requests          # our sending end of parent -> child
        self._messages = messages          # our receiving end of child -> parent
        self._cancel = cancel_value
        self._died: dict | None = None
        self._last_run = 0
        self.pid: int = process.pid

    @classmethod
    def spawn(cls, threads: int | None = None) -> "ScoreProcess":
        """Start a child ('spawn'); `threads`: torch CPU threads there (None: torch's default).
        Returns at once; the child imports torch while the first request waits in its pipe."""
        ctx = multiprocessing.get_context("spawn")
        req_recv, req_send = ctx.Pipe(duplex=False)
        msg_recv, msg_send = ctx.Pipe(duplex=False)
        cancel = ctx.RawValue("q", 0)
        process = ctx.Process(target=_child_main, name="sdanet-scoring", daemon=True,
                              args=(req_recv, msg_send, cancel, threads))
        process.start()
        req_recv.close()   # only the child reads requests and writes messages: when it dies,
        msg_send.close()   # our reads end with EOF instead of waiting forever
        return cls(process, req_send, msg_recv, cancel)

    def submit(self, run: int, checkpoint, features: dict) -> None:
        """Ask for a scoring run. A dead child is not an error here: `poll` reports it."""
        self._last_run = int(run)
        try:
            self._requests.send({"type": "score", "run": int(run), "checkpoint": str(checkpoint),
                                 "features": {str(k): str(v) for k, v in features.items()}})
        except (OSError, ValueError):
            pass

    def cancel(self, run: int) -> None:
        """Stop run `run` before its next video (it still ends with "finished")."""
        self._cancel.value = int(run)

    def poll(self, timeout: float = 0.0) -> dict | None:
        """The child's next message, or None when none came within `timeout` seconds. Once the
        child has ended, returns {"type": "died", "exitcode"} (again on every later call)."""
        if self._died is not None:
            return self._died
        try:
            if self._messages.poll(timeout):
                return self._messages.recv()
        except (EOFError, OSError, ValueError):   # the child is gone (possibly mid-message)
            return self._dead()
        except Exception:  # noqa: BLE001 - a torn pickle from a child killed while writing
            log.exception("scoring child: unreadable message")
            self.kill()
            return self._dead()
        if not self._process.is_alive():
            return self._dead()
        return None

    def _dead(self) -> dict:
        self._process.join(2.0)
        self._died = {"type": "died", "exitcode": self._process.exitcode}
        return self._died

    def is_alive(self) -> bool:
        return self._died is None and self._process.is_alive()

    def kill(self) -> None:
        if self._process.is_alive():
            self._process.kill()
        self._process.join(5.0)

    def stop(self, timeout_s: float = 2.0) -> None:
        """End the child: "quit" (it is idle) or, after `timeout_s`, SIGKILL (it is busy; it
        writes nothing, so nothing is lost). Closes our pipe ends; the child is reaped."""
        self.cancel(self._last_run)
        try:
            self._requests.send({"type": "quit"})
        except (OSError, ValueError):
            pass
        self._process.join(timeout_s)
        if self._process.is_alive():
            self.kill()
        for conn in (self._requests, self._messages):
            try:
                conn.close()
            except OSError:
                pass

    @property
    def exitcode(self) -> int | None:
        return self._process.exitcode


# --- the child --------------------------------------------------------------------------------
def run_scoring(checkpoint, features: dict, send: Callable[[dict], None],
                cancelled: Callable[[], bool], models: dict | None = None, run: int = 0) -> None:
    """Score `features` {video: feature file} with `checkpoint`, reporting only through
    `send(message)` (the protocol above, "finished" excluded: the caller sends it). Raises
    UserError for input the user can fix. `models`: a dict kept between runs, caching the last
    loaded model while its file is unchanged."""
    from ..data.feature_files import read_feature_file
    from ..errors import UserError
    from ..sdanet.localization import PostProcessing
    from ..sdanet.predict import localize_scores, score_features

    checkpoint = Path(checkpoint)
    model, meta = _load_model(checkpoint, {} if models is None else models)
    spec = meta.feature_spec
    post = meta.config.get("post") if isinstance(meta.config, dict) else None
    params = PostProcessing.from_dict(post) if isinstance(post, dict) else PostProcessing()
    total = len(features)
    for i, (name, path) in enumerate(sorted(features.items())):
        if cancelled():
            return
        path = Path(path)
        ff = read_feature_file(path, spec)
        if ff.features.ndim != 2 or ff.features.shape[1] != spec.feature_dim:
            raise UserError(f"{path}: features have shape {tuple(ff.features.shape)}, the model "
                            f"{checkpoint.name} expects [T, {spec.feature_dim}]", path=path)
        scores = score_features(model, ff.features)
        segments = localize_scores(scores, spec, meta.classes, params)
        send({"type": "result", "run": run, "name": name, "cas": scores.cas,
              "attention": scores.attention, "modality_attention": stack_modalities(scores, spec),
              "spec": spec.to_dict(), "classes": list(meta.classes), "segments": list(segments),
              "params": params.to_dict(), "model_name": checkpoint.stem, "checkpoint": str(checkpoint)})
        send({"type": "progress", "run": run, "done": i + 1, "total": total})


def _load_model(checkpoint: Path, models: dict):
    """load_model (the engine picks the device: CUDA when present), cached by file identity."""
    from ..sdanet.predict import load_model

    try:
        st = checkpoint.stat()
        key = (str(checkpoint.resolve()), st.st_mtime_ns, st.st_size)
    except OSError:
        key = None   # load_model reports the missing file
    if key is not None and models.get("key") == key:
        return models["model"], models["meta"]
    models.clear()
    model, meta = load_model(checkpoint)
    if key is not None:
        models.update(key=key, model=model, meta=meta)
    return model, meta


def stack_modalities(scores, spec):
    """VideoScores.modality_attention {name: [T]} -> float32 [T, M] in spec order, or None if
    incomplete."""
    import numpy as np

    mod = getattr(scores, "modality_attention", None) or {}
    names = spec.modality_names
    if not names or any(n not in mod for n in names):
        return None
    return np.stack([np.asarray(mod[n], dtype=np.float32) for n in names], axis=1)


class _ParentGone(Exception):
    """The window's process closed its end of the message pipe."""


def _child_main(requests, messages, cancel, threads: int | None) -> None:
    """Entry point of the spawned child: serve scoring requests until "quit" or the window's
    process is gone."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)   # Ctrl+C in a terminal belongs to the GUI
    from .child_process import lower_priority

    lower_priority()   # the window's UI thread gets a core first
    import torch

    if threads:
        torch.set_num_threads(int(threads))
    models: dict = {}

    def send(msg: dict) -> None:
        try:
            messages.send(msg)
        except (OSError, ValueError) as exc:
            raise _ParentGone() from exc

    while True:
        try:
            request = requests.recv()
        except (EOFError, OSError):
            return
        kind = request.get("type") if isinstance(request, dict) else None
        if kind == "quit":
            return
        if kind != "score":
            log.warning("scoring child: ignoring request %r", kind)
            continue
        run = int(request["run"])
        try:
            _serve(request, run, send, cancel, models)
            send({"type": FINISHED, "run": run})
        except _ParentGone:
            return


def _serve(request: dict, run: int, send, cancel, models: dict) -> None:
    from ..errors import UserError

    checkpoint = request["checkpoint"]
    try:
        run_scoring(checkpoint, request["features"], send, lambda: cancel.value == run, models, run)
    except _ParentGone:
        raise
    except UserError as exc:
        send({"type": "failed", "run": run, "message": str(exc)})
    except Exception as exc:  # noqa: BLE001 - reported as a dialog, the window lives on
        log.exception("scoring with %s failed", checkpoint)
        models.clear()
        send({"type": "failed", "run": run,
              "message": f"{checkpoint}: scoring failed ({type(exc).__name__}: {exc})"})
