"""The headless run of the window's Fine-tune and "New model from this project", shared by
`sdanet finetune --project` and `sdanet train --project`.

Both go through the review session (session/finetuning.py names the manifest, checkpoint and
version; session/adoption.py decides whether the new version becomes active), run the job
in this process (`jobs.finetune_job.run_job`, tqdm progress on stderr, Ctrl+C cancels) and
report in one shape: text, or with --json one object holding at least the contract keys
"adopted", "reason", "active_version", "classes" and "held_out": {"before", "after",
"interval": [lo, hi], "videos", "segments"} (fractions, not percent).

Not a subcommand (the leading underscore keeps `sdanet_gui.cli` from listing it).
"""

from __future__ import annotations


def add_project_arguments(parser, *, cold: bool) -> None:
    """The flags the two --project runs share."""
    from ..session.adoption import DEFAULT_POLICY, POLICIES

    parser.add_argument("--adopt", choices=POLICIES, default=DEFAULT_POLICY,
                        help=f"with --project: when the new version becomes active (default "
                             f"{DEFAULT_POLICY}: only when measurably better on fully reviewed "
                             f"held-out videos; always; never)")
    if cold:
        parser.add_argument("--trust-imported", action="store_true",
                            help="with --project: count imported segments as reviewed ground truth")
        parser.add_argument("--holdout", type=float, default=0.2, metavar="F",
                            help="with --project: share of the fully reviewed videos held out to "
                                 "measure (default 0.2; 3 when that leaves 3 to train on)")


def run_in_project(args, options, *, checkpoint=None, trust_imported: bool = False,
                   empty_hint: str = "") -> int:
    """Run `options` (session.finetuning.FinetuneOptions) on the project `args.project`; print
    the result (`args.json`). Returns the exit code."""
    import json
    import signal
    import sys
    import threading

    from ..errors import UserError
    from ..jobs.finetune_job import run_job
    from ..project.store import Project
    from ..session.review_session import ReviewSession

    project = Project.open(args.project)   # writable: holds the lock (the GUI's open is refused)
    session = ReviewSession(lambda fn: fn(), scoring=False)   # one thread; adopting does not re-score
    session.set_project(project, load_scores=False)
    try:
        run = session.finetune
        plan = run.prepare(options, checkpoint=checkpoint, out=getattr(args, "out", None),
                           trust_imported=trust_imported, empty_hint=empty_hint)
        if not args.json:
            print("trains on       " + "\n                ".join(plan.material.lines()))
            if plan.material.warning():
                print(f"WARNING         {plan.material.warning()}", file=sys.stderr)
        stop_event, cancel_event = threading.Event(), threading.Event()
        show = _Progress(enabled=not args.json, title="train" if options.cold_start else "fine-tune")
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

                logging.getLogger(__name__).error("training failed:\n%s", final["details"])
            raise UserError(outcome.message if outcome is not None else "training ended without a result")
        if outcome.kind == "cancelled":
            print("sdanet: cancelled; nothing was written, the model in use stays active", file=sys.stderr)
            return 130
        active = project.active_model_version()
        result = _result(outcome, plan, active)
    finally:
        session.close()
    if args.json:
        print(json.dumps(result, indent=2, default=str))
    else:
        _print_result(result)
    return 0


def _result(outcome, plan, active) -> dict:
    """The JSON object of a finished run (module docstring)."""
    final, mv, decision = outcome.final, outcome.new_version, outcome.decision
    f = dict(final.get("metrics") or {})
    report = f.pop("held_out_report", None) or {}
    names = f.pop("held_out", [])
    held_out = {"before": report.get("before"), "after": report.get("after"),
                "interval": report.get("interval"), "videos": report.get("videos", len(names)),
                "segments": report.get("segments", 0), **report, "names": names}
    return {**f, "adopted": bool(decision.adopt), "reason": decision.reason,
            "active_version": active.name if active is not None else None,
            "new_version": mv.name, "model_version": mv.id, "parent_model_version": mv.parent_id,
            "classes": f.get("classes") or [], "held_out": held_out,
            "checkpoint": final["checkpoint"], "stopped": final.get("stopped"),
            "trains_on": plan.material.to_dict()}


def _print_result(r: dict) -> None:
    from ..session.adoption import pct

    h = r["held_out"]
    print(f"checkpoint     {r['checkpoint']}" + (f" (parent {r['base_checkpoint']})" if r.get("base_checkpoint") else ""))
    print(f"model version  {r['model_version']} '{r['new_version']}', "
          + ("now active" if r["adopted"] else f"not active ('{r['active_version']}' is)"))
    print(f"decision       {r['reason']}")
    skipped = sum(len(v) for v in (r.get("skipped") or {}).values())
    print(f"videos         {len(r['train_videos'])} trained on, {h['videos']} held out"
          + (f", {skipped} skipped (no features or nothing reviewed)" if skipped else "")
          + (f", {r['replay_videos']} replayed" if r.get("replay_videos") else ""))
    if r.get("new_classes"):
        print(f"new classes    {', '.join(r['new_classes'])} (classes now: {', '.join(r['classes'])})")
    print(f"device         {r.get('device')}")
    print_figures(r)
    if r.get("base_test"):
        b = r["base_test"]
        print(f"base test      avg mAP {pct(b['before'])} -> {pct(b['after'])} on {b['videos']} videos "
              f"of the base's own test set (forgetting)")


def print_figures(f: dict) -> None:
    """Steps and the held-out figures before / after (both `sdanet finetune` forms)."""
    print(f"steps          {f['steps_done']}{' (stopped early)' if f.get('stopped') else ''} at lr "
          f"{f['lr']:g}, snippet loss weight {f['snippet_weight']:g}")
    for key, title in (("before", "held-out before"), ("after", "held-out after")):
        m = f[key]
        per = "  ".join(f"{t}:{'n/a' if v is None else f'{100 * v:.1f}'}" for t, v in m["mAP"].items())
        avg = "n/a" if m["average_mAP"] is None else f"{100 * m['average_mAP']:.2f}"
        print(f"{title:15s} avg mAP {avg}  |  {per}")


class _Progress:
    """Receives run_job's messages: a tqdm bar on stderr for the steps."""

    def __init__(self, enabled: bool, title: str):
        self.enabled = enabled
        self.title = title
        self.bar = None

    def __call__(self, msg: dict) -> None:
        if msg.get("type") == "progress" and self.enabled:
            if self.bar is None:
                import sys

                from tqdm import tqdm

                self.bar = tqdm(total=msg["total"], desc=self.title, unit="step", file=sys.stderr,
                                dynamic_ncols=True, leave=False, disable=None)  # off when not a TTY
            self.bar.update(msg["step"] - self.bar.n)
            self.bar.set_postfix({"loss": f"{msg['losses']['total']:.4f}",
                                  "snip/s": f"{msg['snippets_per_s']:.0f}"}, refresh=False)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
