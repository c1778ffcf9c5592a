"""`sdanet finetune`: fine-tune a checkpoint on corrected videos, from a project or a feature set.

    sdanet finetune --project DIR [--steps N] [--out CKPT] [--ckpt BASE] [--trust-imported]
                    [--replay PATH] [--seed S] [--lr LR] [--snippet-weight W] [--holdout F]
                    [--device DEV] [--json]
    sdanet finetune --ckpt BASE --data PATH --subset NAME [--steps N] [--seed S] [--lr LR]
                    [--snippet-weight W] [--holdout F] [--device DEV] [--json] --out CKPT

--project: the headless twin of the GUI's "Fine-tune", through the same review session
(session/finetuning.py). It opens the project for writing (so a project open in the GUI is
refused with the lock's message), starts from --ckpt or the active model version's checkpoint,
freezes a manifest of the reviewed material (cache/manifests/), runs the same
`jobs.finetune_job.run_job` the GUI's child process runs (tqdm progress on stderr), prints the
held-out average mAP before/after, registers the new checkpoint as a model version (parent =
the base version, named "<base> ft<n>") and makes it active.
--data/--subset: the annotated segments of subset NAME count as fully reviewed corrections
(every other span of those videos is reviewed background). Both paths share one core
(`sdanet.finetune.finetune_videos`): same seed, same material, same checkpoint.

Thin: parse, load, call, print. torch is imported inside `run` only.
"""

from __future__ import annotations

NAME = "finetune"
HELP = "fine-tune a checkpoint on corrected videos and report held-out mAP before/after"


def add_arguments(parser) -> None:
    parser.add_argument("--project", metavar="DIR",
                        help="project folder: train on its reviewed videos, register the result as "
                             "a new model version and make it active")
    parser.add_argument("--ckpt", metavar="BASE", help="checkpoint to start from (.pt; with --project "
                        "default: the active model version's)")
    parser.add_argument("--data", metavar="PATH",
                        help="feature set: per-video feature folder, HDF5 file or W-TALC bundle")
    parser.add_argument("--subset", metavar="NAME",
                        help="subset whose annotated videos are the corrections")
    parser.add_argument("--out", metavar="CKPT", help="checkpoint file to write (.pt; with --project "
                        "default: a new file in the project's checkpoints/)")
    parser.add_argument("--steps", type=int, default=100, metavar="N", help="training steps (default 100)")
    parser.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    parser.add_argument("--lr", type=float, help="learning rate (default: the checkpoint's config)")
    parser.add_argument("--snippet-weight", type=float, default=1.0, metavar="W",
                        help="weight of the snippet-level loss on the corrections (default 1.0)")
    parser.add_argument("--holdout", type=float, default=0.2, metavar="F",
                        help="fraction of the annotated videos held out to measure (default 0.2, >= 1 video)")
    parser.add_argument("--annotations", metavar="PATH",
                        help="annotation file/folder when not found next to the features")
    parser.add_argument("--trust-imported", action="store_true",
                        help="with --project: count imported segments as reviewed corrections "
                             "(curated ground truth)")
    parser.add_argument("--replay", metavar="PATH",
                        help="with --project: base training feature set mixed in (video labels only)")
    parser.add_argument("--device", metavar="DEV", help="auto (default), cpu, cuda or cuda:N")
    parser.add_argument("--json", action="store_true", help="print the result as JSON")


def run(args) -> int:
    from ..errors import UserError

    if args.project:
        if args.data or args.subset or args.annotations:
            raise UserError("--project trains on the project's reviewed videos; --data, --subset "
                            "and --annotations are for a feature set (use one or the other)")
        return _run_project(args)
    missing = [f"--{n}" for n in ("ckpt", "data", "subset", "out") if not getattr(args, n)]
    if missing:
        raise UserError(f"{', '.join(missing)} {'is' if len(missing) == 1 else 'are'} required "
                        f"without --project")
    if args.trust_imported or args.replay:
        raise UserError("--trust-imported and --replay work with --project only")
    return _run_subset(args)


def _run_subset(args) -> int:
    import json
    from pathlib import Path

    from ..errors import UserError

    data, ckpt, out = Path(args.data), Path(args.ckpt), Path(args.out)
    if not data.exists():
        raise UserError(f"{data}: data not found", path=data)
    if not ckpt.is_file():
        raise UserError(f"{ckpt}: checkpoint not found", path=ckpt)
    if out.is_dir():
        raise UserError(f"{out}: is a folder; give a checkpoint file name such as {out / 'model.pt'}",
                        path=out)

    from ..data.feature_sets import load_feature_set
    from ..sdanet.checkpoint import load_checkpoint
    from ..sdanet.finetune import finetune_feature_set

    _, meta = load_checkpoint(ckpt)
    # The data's own spec wins; the checkpoint's only fills in what the data does not say.
    # Both subsets named explicitly: a missing one is refused by the loader with the subsets
    # found, and the train/test choice (irrelevant here) raises no warnings.
    fs = load_feature_set(data, default_spec=meta.feature_spec, annotations=args.annotations,
                          train_subset=args.subset, test_subset=args.subset)
    result = finetune_feature_set(ckpt, fs, args.subset, steps=args.steps, out=out, seed=args.seed,
                                  lr=args.lr, snippet_weight=args.snippet_weight,
                                  holdout=args.holdout, device=args.device)
    f = result.metrics["finetune"]
    if args.json:
        print(json.dumps({"checkpoint": str(result.checkpoint), "parent": result.meta.parent, **f},
                         indent=2, default=str))
        return 0
    print(f"checkpoint     {result.checkpoint} (parent {ckpt})")
    print(f"videos         {len(f['train_videos'])} trained on, {len(f['held_out'])} held out "
          f"(subset '{f['subset']}')")
    _print_figures(f)
    return 0


def _print_figures(f: dict) -> None:
    print(f"steps          {f['steps_done']}{' (stopped early)' if f.get('stopped') else ''} at lr "
          f"{f['lr']:g}, snippet loss weight {f['snippet_weight']:g}")
    for key, title in (("before", "held-out before"), ("after", "held-out after")):
        m = f[key]
        per = "  ".join(f"{t}:{100 * v:.1f}" for t, v in m["mAP"].items())
        avg = "n/a" if m["average_mAP"] is None else f"{100 * m['average_mAP']:.2f}"
        print(f"{title:15s} avg mAP {avg}  |  {per}")


def _run_project(args) -> int:
    """The window's Fine-tune, headless: the same session code names the files and the version
    (session/finetuning.py); the job runs in this process (tqdm progress, Ctrl+C cancels)."""
    import json
    import signal
    import sys
    import threading

    from ..errors import UserError
    from ..jobs.finetune_job import run_job
    from ..project.store import Project
    from ..session.finetuning import FinetuneOptions
    from ..session.review_session import ReviewSession

    project = Project.open(args.project)   # writable: holds the lock (the GUI's open is refused)
    session = ReviewSession(lambda fn: fn(), scoring=False)   # one thread; adopting does not re-score
    session.set_project(project, load_scores=False)
    try:
        run = session.finetune
        options = FinetuneOptions(steps=args.steps, lr=args.lr, seed=args.seed, holdout=args.holdout,
                                  replay=args.replay, snippet_weight=args.snippet_weight, device=args.device)
        plan = run.prepare(options, checkpoint=args.ckpt, out=args.out, trust_imported=args.trust_imported,
                           empty_hint="" if args.trust_imported else
                           " (add --trust-imported to count imported ground truth)")
        stop_event, cancel_event = threading.Event(), threading.Event()
        show = _Progress(enabled=not args.json)
        old = signal.signal(signal.SIGINT, lambda *_: cancel_event.set())   # Ctrl+C: cancel cleanly
        try:
            run_job(plan.request, lambda msg: (show(msg), run.handle(msg)), stop_event, cancel_event)
        finally:
            signal.signal(signal.SIGINT, old)
            show.close()
        outcome = run.outcome
        if outcome is None or outcome.kind in ("failed", "unregistered"):
            final = outcome.final if outcome is not None else {}
            if final.get("kind") == "crash" and final.get("details"):
                import logging

                logging.getLogger(__name__).error("fine-tuning failed:\n%s", final["details"])
            raise UserError(outcome.message if outcome is not None else "fine-tuning ended without a result")
        if outcome.kind == "cancelled":
            print("sdanet finetune: cancelled; nothing was written, the model in use stays active",
                  file=sys.stderr)
            return 130
        mv, final, parent = outcome.new_version, outcome.final, outcome.base
    finally:
        session.close()
    f = final["metrics"]
    if args.json:
        print(json.dumps({"checkpoint": final["checkpoint"], "model_version": mv.id,
                          "parent_model_version": mv.parent_id, "stopped": final["stopped"], **f},
                         indent=2, default=str))
        return 0
    print(f"checkpoint     {final['checkpoint']} (parent {plan.request.base_checkpoint})")
    print(f"model version  {mv.id} '{mv.name}', now active"
          + (f" (parent version {parent.id} '{parent.name}')" if parent else ""))
    skipped = sum(len(v) for v in (f.get("skipped") or {}).values())
    print(f"videos         {len(f['train_videos'])} trained on, {len(f['held_out'])} held out"
          + (f", {skipped} skipped (no features or nothing reviewed)" if skipped else "")
          + (f", {f['replay_videos']} replayed" if f.get("replay_videos") else ""))
    print(f"device         {f.get('device')}")
    _print_figures(f)
    return 0


class _Progress:
    """Receives run_job's messages: a tqdm bar on stderr for the steps, keeps the final one."""

    def __init__(self, enabled: bool):
        self.enabled = enabled
        self.bar = None
        self.final = None

    def __call__(self, msg: dict) -> None:
        kind = msg.get("type")
        if kind in ("done", "cancelled", "failed"):
            self.final = msg
        elif kind == "progress" and self.enabled:
            if self.bar is None:
                import sys

                from tqdm import tqdm

                self.bar = tqdm(total=msg["total"], desc="fine-tune", unit="step", file=sys.stderr,
                                dynamic_ncols=True, leave=False, disable=None)  # off when not a TTY
            self.bar.update(msg["step"] - self.bar.n)
            self.bar.set_postfix({"loss": f"{msg['losses']['total']:.4f}",
                                  "snip/s": f"{msg['snippets_per_s']:.0f}"}, refresh=False)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
