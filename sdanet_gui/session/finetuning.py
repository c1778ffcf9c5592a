"""Fine-tuning as part of a review session: what a run trains on, where its files go, what its
messages mean, and what happens to the model versions when it ends. Used by the window's
Fine-tune button and by `sdanet finetune --project`, so both name a manifest, a checkpoint and
a version the same way (they used to drift: two manifest folders, two version names).

- `finetune_base(project, checkpoint)`: the checkpoint to start from (the active version's, or
  one given) and its model version.
- `Finetuning.prepare(options)`: freezes the training manifest of the chosen videos into
  `cache/manifests/<checkpoint stem>.json`, picks a new checkpoint file in `checkpoints/`
  (`finetune-<time>-<n>.pt`, never an existing file) and the version name (`<base> ft<n>`), and
  builds the `FinetuneRequest` the job runs.
- `Finetuning.start(options)`: prepare, then run the job in its child process
  (`jobs.finetune_runner`); `stop` keeps the weights so far, `cancel` discards, `kill` ends the
  child (window closing).
- `Finetuning.handle(msg)`: every message of the job, from the child (window) or from
  `run_job` in-process (command line). On "done" the new checkpoint is registered as a model
  version (parent = the base version; its metrics record its class list and held-out report)
  and made active only when `adoption.decide` says so for the run's policy (default
  "if-better": measurably better on fully reviewed held-out videos); otherwise the model in use
  stays active and the outcome says why, and `use_anyway()` adopts it after the user has seen
  the numbers. "cancelled" and "failed" change nothing. `events.finished(FinetuneOutcome)`
  tells the views.
- A cold start ("New model from this project", `sdanet train --project`) is the same run with
  `FinetuneOptions(cold_start=True)`: no base; the model in use (if any) is "before".
- `plan.material` (training_summary.py) says what the run trains on before it starts.

Qt-free; touches the project only on the owner's thread (in `prepare` and `handle`).
"""

from __future__ import annotations

import logging
import math
import time
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

from ..errors import UserError
from ..jobs.finetune_job import REPLAY_AUTO
from .events import Events

if TYPE_CHECKING:
    from ..jobs.finetune_job import FinetuneRequest
    from ..project.manifest import Manifest
    from ..project.store import ModelVersion, Project
    from ..sdanet.held_out import HeldOutReport
    from .adoption import Decision
    from .review_session import ReviewSession
    from .training_summary import TrainingSummary

log = logging.getLogger(__name__)

MANIFESTS_FOLDER = "manifests"           # inside the project's cache folder
REPLAY_SETTING = "finetune_replay"       # user setting: the replay feature set last used
DEFAULT_STEPS = 100
DEFAULT_HOLDOUT = 0.2
NO_MODEL_TEXT = ("the project has no model version to fine-tune: load a checkpoint first "
                 "(Model > Load checkpoint… in the window, --ckpt BASE with `sdanet finetune`), "
                 "or open the demo")


@dataclass
class FinetuneOptions:
    """What the user chose: the videos (None: every video with reviewed material) and the knobs."""

    video_ids: list[int] | None = None
    steps: int = DEFAULT_STEPS
    lr: float | None = None
    holdout: float = DEFAULT_HOLDOUT
    seed: int = 0
    replay: str | None = REPLAY_AUTO     # a feature set, REPLAY_AUTO, or None: no replay
    snippet_weight: float = 1.0
    device: str | None = None            # None: CUDA with mixed precision when present, else CPU
    adopt: str = "if-better"             # adoption.POLICIES
    cold_start: bool = False             # train a model of the project's own, from nothing


@dataclass
class VideoChoice:
    """What one video of the project can teach (a row of the start dialog)."""

    video_id: int
    name: str
    human_segments: int
    review: str              # 'unreviewed' / 'partial' / 'done'
    has_features: bool

    @property
    def trainable(self) -> bool:
        return self.human_segments > 0 or self.review != "unreviewed"


def video_choices(project: "Project") -> list[VideoChoice]:
    """The project's videos with what each can teach."""
    from ..project.schema import HUMAN_PROVENANCES

    out = []
    for rec in project.videos():
        humans = sum(1 for s in project.segments(rec.id) if s.provenance in HUMAN_PROVENANCES)
        features = project.feature_file(rec)
        out.append(VideoChoice(rec.id, rec.name, humans, project.review_state(rec.id).state,
                               features is not None and features.is_file()))
    return out


def finetune_base(project: "Project", checkpoint=None) -> tuple["ModelVersion | None", Path]:
    """(model version, checkpoint) to start from: `checkpoint` when given (its version if the
    project has one for that file), else the active version's. UserError naming the file or the
    project when there is none to use."""
    if checkpoint:
        base = Path(checkpoint)
        if not base.is_file():
            raise UserError(f"{base}: checkpoint not found", path=base)
        same = [mv for mv in project.model_versions()
                if project.model_checkpoint(mv) is not None
                and project.model_checkpoint(mv).resolve() == base.resolve()]
        return (same[-1] if same else None), base
    mv = project.active_model_version()
    if mv is None:
        raise UserError(f"{project.folder}: {NO_MODEL_TEXT}", path=project.folder)
    base = project.model_checkpoint(mv)
    if base is None:
        raise UserError(f"{project.folder}: the active model version {mv.id} '{mv.name}' has no "
                        f"checkpoint (imported predictions?); load a checkpoint first (Model > Load "
                        f"checkpoint…, or --ckpt BASE)", path=project.folder)
    if not base.is_file():
        raise UserError(f"{base}: the checkpoint of model version '{mv.name}' is missing; load a "
                        f"checkpoint first (Model > Load checkpoint…, or --ckpt BASE)", path=base)
    return mv, base


def _new_file(folder: Path, stem: str, suffix: str) -> Path:
    n, path = 1, folder / f"{stem}{suffix}"
    while path.exists():
        n += 1
        path = folder / f"{stem}-{n}{suffix}"
    return path


def version_name(project: "Project", base: "ModelVersion | None", cold_start: bool = False) -> str:
    """`<base> ft<n>` (a cold start: `<project folder> model <n>`), the first n not taken."""
    stem, sep = (project.folder.name, " model ") if cold_start else \
        (base.name if base is not None else "model", " ft")
    names = {v.name for v in project.model_versions()}
    n = 1
    while f"{stem}{sep}{n}" in names:
        n += 1
    return f"{stem}{sep}{n}"


@dataclass
class FinetunePlan:
    """One prepared run: the request the job runs and what the session registers afterwards."""

    request: "FinetuneRequest"
    manifest: "Manifest"
    base: "ModelVersion | None"          # the version it starts from (a cold start: None)
    version_name: str
    project: "Project"
    options: FinetuneOptions = field(default_factory=FinetuneOptions)
    material: "TrainingSummary | None" = None
    current: "ModelVersion | None" = None  # the version active when it started (the comparison)


# --- after the run ------------------------------------------------------------------------------

@dataclass
class RunSummary:
    """What a finished run achieved, in the words of the result dialog and the command line."""

    before: float | None
    after: float | None
    per_class: dict = field(default_factory=dict)   # class -> (before AP | None, after AP | None)
    device: str = ""
    steps_done: int | None = None
    steps: int | None = None
    stopped: bool = False
    held_out: list = field(default_factory=list)
    train_videos: list = field(default_factory=list)
    version_name: str = ""
    report: "HeldOutReport | None" = None   # what the held-out figure rests on, its interval
    classes: list = field(default_factory=list)
    new_classes: list = field(default_factory=list)
    base_test: dict | None = None           # the base's own test figure before / after (replay)
    cold_start: bool = False


def _ap(value):
    return None if value is None or not math.isfinite(float(value)) else float(value)


def summarize(done: dict, evals: dict, started: dict | None, version_name: str = "") -> RunSummary:
    """Merge the final "done" message with the "eval" messages seen ({phase: msg}) and the
    "started" message: the eval messages are preferred, the done metrics fill the gaps."""
    metrics = done.get("metrics") or {}
    started = started or {}

    def phase(name):
        m = dict(metrics.get(name) or {}) if isinstance(metrics.get(name), dict) else {}
        m.update(evals.get(name) or {})
        return m

    before, after = phase("before"), phase("after")
    per_before = before.get("per_class") or (metrics.get("per_class") or {}).get("before") or {}
    per_after = after.get("per_class") or (metrics.get("per_class") or {}).get("after") or {}
    classes = list(dict.fromkeys(list(per_before) + list(per_after)))
    per_class = {c: (_ap(per_before.get(c)), _ap(per_after.get(c))) for c in classes}
    from ..sdanet.held_out import HeldOutReport

    report = metrics.get("held_out_report")
    return RunSummary(
        before=_ap(before.get("average_mAP")), after=_ap(after.get("average_mAP")), per_class=per_class,
        device=str(metrics.get("device") or started.get("device") or ""),
        steps_done=metrics.get("steps_done", metrics.get("steps")), steps=started.get("steps"),
        stopped=bool(done.get("stopped")), held_out=list(metrics.get("held_out") or started.get("held_out") or []),
        train_videos=list(metrics.get("train_videos") or started.get("train_videos") or []),
        version_name=version_name, report=HeldOutReport.from_dict(report) if isinstance(report, dict) else None,
        classes=list(metrics.get("classes") or started.get("classes") or []),
        new_classes=list(metrics.get("new_classes") or started.get("new_classes") or []),
        base_test=metrics.get("base_test"), cold_start=bool(metrics.get("cold_start")))


FAILURE_WORDS = {"nan": "the loss became NaN", "oom": "out of memory", "disk": "cannot write",
                 "input": "bad input", "crash": "the training process failed"}


@dataclass
class FinetuneOutcome:
    """How a run ended, for the views: kind "done" | "cancelled" | "failed" (+ "unregistered":
    done, but its project was closed or the version could not be registered)."""

    kind: str
    message: str
    final: dict
    base: "ModelVersion | None" = None      # the version active when the run started
    new_version: "ModelVersion | None" = None
    summary: RunSummary | None = None
    details: str = ""
    decision: "Decision | None" = None      # adopted or not, and why (done only)

    @property
    def adopted(self) -> bool:
        return self.decision is not None and self.decision.adopt

# --- the run, in the session --------------------------------------------------------------------

class Finetuning:
    """The session's fine-tuning run (one at a time). Events, on the owner's thread:
    started(msg), progress(msg), evaluated(msg), finished(FinetuneOutcome)."""

    def __init__(self, session: "ReviewSession"):
        self.session = session
        self.events = Events("started", "progress", "evaluated", "finished")
        self.runner = None                 # jobs.finetune_runner.FinetuneRunner, made on the first start
        self.plan: FinetunePlan | None = None
        self.started: dict | None = None   # the run's "started" message
        self.evals: dict[str, dict] = {}   # phase -> its "eval" message
        self.last_final: dict | None = None
        self.outcome: FinetuneOutcome | None = None
        self.new_version = None            # the ModelVersion the last "done" registered
        self.timing: dict[str, float] = {}  # monotonic times (dialog, start, started, ...) for benchmarks
        self._closing = False

    # --- state ---------------------------------------------------------------------------------
    @property
    def request(self):
        return self.plan.request if self.plan is not None else None

    def busy(self) -> bool:
        return self.runner is not None and self.runner.busy()

    @property
    def pid(self) -> int | None:
        return self.runner.pid if self.runner is not None else None

    @property
    def job(self):
        return self.runner.job if self.runner is not None else None

    def base(self, checkpoint=None):
        """(model version, checkpoint) a run would start from; UserError when there is none."""
        project = self.session.project
        if project is None:
            raise UserError("open a project first: fine-tuning learns from its corrected videos")
        return finetune_base(project, checkpoint)

    # --- starting -------------------------------------------------------------------------------
    def prepare(self, options: FinetuneOptions, *, checkpoint=None, out=None, trust_imported: bool = False,
                threads: int | None = None, empty_hint: str = "") -> FinetunePlan:
        """Freeze the manifest, choose the files and the version name, build the request.
        UserError (naming the file or the project) when it cannot run."""
        from ..jobs.finetune_job import FinetuneRequest
        from .adoption import POLICIES
        from .training_summary import summarize_material

        if options.adopt not in POLICIES:
            raise UserError(f"unknown --adopt policy '{options.adopt}' (choose {', '.join(POLICIES)})")
        self.timing["start"] = time.monotonic()
        project = self.session.project
        if project is None:
            raise UserError("open a project first: a model learns from its reviewed videos")
        current = project.active_model_version()
        if options.cold_start:
            base, base_ckpt = None, None
            compare = project.model_checkpoint(current) if current is not None else None
            compare = compare if compare is not None and compare.is_file() else None
        else:
            base, base_ckpt = self.base(checkpoint)
            compare = None
        stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
        what = "train a model" if options.cold_start else "fine-tune"
        try:
            project.checkpoints_dir.mkdir(parents=True, exist_ok=True)
            out = Path(out) if out else _new_file(project.checkpoints_dir,
                                                  f"{'model' if options.cold_start else 'finetune'}-{stamp}", ".pt")
            if out.is_dir():
                raise UserError(f"{out}: is a folder; give a checkpoint file name such as "
                                f"{out / 'model.pt'}", path=out)
            manifest = self.freeze(options.video_ids, trust_imported=trust_imported)
            if not manifest.videos:
                raise UserError(f"{project.folder}: nothing to {what} on: no video has reviewed spans "
                                f"or confirmed, edited or added segments{empty_hint}", path=project.folder)
            manifest_path = manifest.write(project.cache_dir / MANIFESTS_FOLDER / f"{out.stem}.json")
        except OSError as exc:
            raise UserError(f"{project.folder}: cannot write the training files "
                            f"({exc.strerror or exc})", path=project.folder) from exc
        request = FinetuneRequest(
            manifest=str(manifest_path), base_checkpoint=str(base_ckpt) if base_ckpt else None,
            out_checkpoint=str(out), steps=int(options.steps), lr=options.lr, seed=int(options.seed),
            holdout=float(options.holdout), snippet_weight=float(options.snippet_weight),
            replay=options.replay or None, device=options.device, threads=threads,
            compare_checkpoint=str(compare) if compare else None)
        self.plan = FinetunePlan(request, manifest, base, version_name(project, base, options.cold_start),
                                 project, options, summarize_material(manifest), current)
        self.started, self.evals, self.last_final, self.outcome, self.new_version = None, {}, None, None, None
        self._closing = False
        log.info("%s prepared: %s", what, request)
        return self.plan

    def freeze(self, video_ids=None, *, trust_imported: bool = False) -> "Manifest":
        """The frozen training manifest of `video_ids` (None: every video with reviewed
        material) of the session's project (the start dialog's summary reads it too)."""
        from ..project.manifest import freeze_manifest

        return freeze_manifest(self.session.project, video_ids, trust_imported=trust_imported)

    def start(self, options: FinetuneOptions) -> FinetunePlan:
        """Prepare and run in the fine-tuning child (see the module docstring)."""
        from ..jobs.child_process import child_threads
        from ..jobs.finetune_runner import FinetuneRunner

        if self.busy():
            raise UserError("fine-tuning is already running")
        plan = self.prepare(options, threads=child_threads())
        if self.runner is None:
            self.runner = FinetuneRunner(self.session.post, self.handle)
        self.runner.start(plan.request)
        return plan

    def stop(self) -> None:
        if self.runner is not None:
            self.runner.stop()

    def wait(self, timeout_s: float) -> bool:
        """Block until the relay has let go of the child (closing, tests); True if it did."""
        return self.runner is None or self.runner.wait(timeout_s)

    def cancel(self) -> None:
        if self.runner is not None:
            self.runner.cancel()

    def shutdown(self, timeout_s: float = 10.0) -> None:
        """Kill a running child and wait for its relay (the window closing): nothing is registered."""
        self._closing = True
        if self.busy():
            self.runner.kill()
            if not self.runner.wait(timeout_s):
                log.warning("the fine-tuning relay thread did not end within %.0f s", timeout_s)

    # --- the job's messages ------------------------------------------------------------------
    def handle(self, msg: dict) -> None:
        kind = msg.get("type")
        if kind == "started":
            self.timing.setdefault("started", time.monotonic())
            self.started = msg
            self.events.started.emit(msg)
        elif kind == "progress":
            self.timing.setdefault("first_progress", time.monotonic())
            self.events.progress.emit(msg)
        elif kind == "eval":
            self.evals[str(msg.get("phase"))] = msg
            self.events.evaluated.emit(msg)
        elif kind in ("done", "cancelled", "failed"):
            self.timing["final"] = time.monotonic()
            self.last_final = msg
            if self._closing:
                return
            self.outcome = self._ended(msg)
            self.events.finished.emit(self.outcome)

    def _ended(self, msg: dict) -> FinetuneOutcome:
        from .adoption import decide

        plan = self.plan
        base = (plan.current or plan.base) if plan is not None else None
        stays_name = base.name if base is not None else "the previous model"
        what = "training" if plan is not None and plan.options.cold_start else "fine-tuning"
        kind = msg["type"]
        if kind == "cancelled":
            return FinetuneOutcome("cancelled", f"{what} cancelled: nothing was saved; '{stays_name}' "
                                                f"stays active", msg, base)
        if kind == "failed":
            return FinetuneOutcome("failed", str(msg.get("message") or f"{what} failed; the "
                                                 "previous model stays active"),
                                   msg, base, details=msg.get("details") or "")
        project = plan.project
        if project.closed:
            return FinetuneOutcome("unregistered", f"{what} finished, but the project was closed: "
                                                   f"the checkpoint is at {msg.get('checkpoint')}", msg, base)
        try:
            current = project.active_model_version()
            if current is not None:   # pinned: "the newest" must not make the new one active
                project.set_active_model_version(current.id)
            mv = project.add_model_version(plan.version_name, checkpoint=msg["checkpoint"],
                                           metrics=msg.get("metrics") or {},
                                           parent_id=plan.base.id if plan.base is not None else None)
        except UserError as exc:
            return FinetuneOutcome("unregistered", f"{what} finished, but the new version could "
                                                   f"not be registered: {exc}", msg, base)
        self.new_version = mv
        summary = summarize(msg, self.evals, self.started, version_name=mv.name)
        decision = decide(summary.report, plan.options.adopt,
                          current=base.name if base is not None else "the current model")
        how = "stopped early" if summary.stopped else "finished"
        if decision.adopt:
            message = f"'{mv.name}' is active: {decision.reason}"
        else:
            message = f"'{mv.name}' is under Model > Versions, not active; {decision.reason}"
        outcome = FinetuneOutcome("done", f"{what} {how}: {message}", msg, base, mv, summary,
                                  decision=decision)
        if decision.adopt and self.session.project is project:
            try:
                self.session.adopt(mv)   # active; re-scored in the background in the window
            except UserError as exc:
                outcome.message = f"{what} {how}, but '{mv.name}' is not active: {exc}"
        return outcome

    def use_anyway(self) -> None:
        """The user saw the numbers and wants the last run's version active all the same."""
        outcome = self.outcome
        if outcome is None or outcome.new_version is None or not self._switch_to(outcome.new_version):
            return
        if outcome.decision is not None:
            outcome.decision.adopt = True
        self.session.events.status.emit(f"'{outcome.new_version.name}' is active (used anyway)", 10000)

    def rollback(self) -> None:
        """The base version of the last run is active again; the new one stays listed."""
        outcome = self.outcome
        if outcome is None or outcome.base is None or not self._switch_to(outcome.base):
            return
        new = outcome.new_version
        self.session.events.status.emit(
            f"'{outcome.base.name}' is active again"
            + (f"; '{new.name}' stays under Model > Versions" if new is not None else ""), 10000)

    def _switch_to(self, mv) -> bool:
        """Make `mv` active while the last run's project is still the session's; True if done."""
        if self.plan is None or self.plan.project.closed or self.session.project is not self.plan.project:
            return False
        self.session.adopt(mv)
        return True
