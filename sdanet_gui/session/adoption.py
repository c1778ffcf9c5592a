"""When a new model version replaces the one in use: never worse by surprise.

Why it exists: the correction loop is only worth trusting if pressing Fine-tune can never make
the predictions of every video worse behind the user's back (a run that trained on one video
and measured on one partly annotated one once replaced a model at 20.2 -> 0.0 held-out mAP).
The window, `sdanet finetune --project` and `sdanet train --project` all ask `decide()` what
to do with a finished run, so the rule is written once, here.

The rule ("measurably better"), on the run's held-out report (sdanet/held_out.py: held-out
videos are fully reviewed ones only, never trained on; the interval is a paired bootstrap over
those videos of after - before average mAP):
  1. Too little held out to tell: fewer than MIN_VIDEOS (3) held-out videos or fewer than
     MIN_SEGMENTS (10) ground-truth segments on them. The figure decides nothing.
  2. Measurably better: the whole 95 % interval of after - before lies above 0.
  3. A class made clearly worse: its AP dropped by at least CLASS_DROP (5 points) and the
     interval of that class's change lies below 0. Named before anything is adopted.
Policies: "if-better" (the default) adopts only when 2 holds, 1 does not, and no class is
clearly worse; "always" adopts whatever the figures (the reason still states them); "never"
only registers the new version. Without a model to compare with (a cold start in a project
with no usable model) there is nothing to be worse than, and "if-better" adopts. Whenever a run
is not adopted the user can still choose it after seeing the numbers ("Use anyway").

Pure functions over plain data; never touches the project.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ..sdanet.held_out import HeldOutReport

POLICIES = ("if-better", "always", "never")
DEFAULT_POLICY = "if-better"
MIN_VIDEOS = 3
MIN_SEGMENTS = 10
CLASS_DROP = 0.05


@dataclass
class Decision:
    """What happens to a finished run's version, and why (one sentence for the user)."""

    adopt: bool
    reason: str
    measurable: bool                # enough held out to decide on
    better: bool | None             # the interval lies above 0 (None: nothing to compare with)
    worse_classes: list[str] = field(default_factory=list)   # classes clearly worse, by name
    policy: str = DEFAULT_POLICY


def pct(value: float | None) -> str:
    """A fraction as percent with one decimal ("n/a" for None)."""
    return "n/a" if value is None else f"{100 * value:.1f}"


def signed_pct(value: float) -> str:
    return f"{100 * value:+.1f}"


def figures_text(report: HeldOutReport) -> str:
    """"held-out average mAP 20.2 -> 24.9 % (+4.7, 95 % interval +1.0 to +8.3) on 4 videos, 17
    segments", the trust figures in words."""
    rest = f"on {report.videos} held-out video{'s' if report.videos != 1 else ''}, {report.segments} segments"
    if report.before is None:
        head = f"held-out average mAP {pct(report.after)} %"
        if report.interval:
            head += f" (95 % interval {pct(report.interval[0])} to {pct(report.interval[1])})"
        return f"{head} {rest}"
    head = f"held-out average mAP {pct(report.before)} → {pct(report.after)} %"
    if report.difference is not None:
        head += f" ({signed_pct(report.difference)}"
        if report.interval:
            head += (f", {round(100 * report.confidence)} % interval {signed_pct(report.interval[0])} "
                     f"to {signed_pct(report.interval[1])}")
        head += ")"
    return f"{head} {rest}"


def clearly_worse_classes(report: HeldOutReport) -> list[str]:
    """Classes whose held-out AP dropped by at least CLASS_DROP with an interval below 0."""
    out = []
    for name, c in report.per_class.items():
        if c.before is None or c.after is None or c.interval is None:
            continue
        if c.before - c.after >= CLASS_DROP and c.interval[1] < 0:
            out.append(name)
    return out


def decide(report: HeldOutReport | dict | None, policy: str = DEFAULT_POLICY, *,
           current: str = "the current model") -> Decision:
    """The Decision for a run's held-out report (a HeldOutReport or its dict; None: the run
    measured nothing). `current` names the model in use, for the reason."""
    if policy not in POLICIES:
        raise ValueError(f"unknown adopt policy {policy!r} (choose {', '.join(POLICIES)})")
    if isinstance(report, dict):
        report = HeldOutReport.from_dict(report)
    stays = f"'{current}' stays active"
    if report is None or report.videos == 0 or report.after is None:
        why = "nothing was held out to measure it on (no fully reviewed video to spare)"
        return _by_policy(policy, False, why, stays, measurable=False, better=None)
    figures = figures_text(report)
    measurable = report.videos >= MIN_VIDEOS and report.segments >= MIN_SEGMENTS
    if report.before is None:
        why = f"no usable model was active to compare with; {figures}"
        return _by_policy(policy, True, why, stays, measurable=measurable, better=None)
    if not measurable:
        why = (f"too little held out to tell: {figures} (deciding needs at least {MIN_VIDEOS} "
               f"fully reviewed videos and {MIN_SEGMENTS} segments held out)")
        return _by_policy(policy, False, why, stays, measurable=False, better=None)
    better = bool(report.interval) and report.interval[0] > 0
    worse = clearly_worse_classes(report)
    if not better:
        why = f"not measurably better: {figures}"
        return _by_policy(policy, False, why, stays, measurable=True, better=False, worse=worse)
    if worse:
        named = ", ".join(f"{c} (AP {pct(report.per_class[c].before)} → {pct(report.per_class[c].after)})"
                          for c in worse)
        why = f"better on average ({figures}) but clearly worse on {named}"
        return _by_policy(policy, False, why, stays, measurable=True, better=True, worse=worse)
    return _by_policy(policy, True, f"measurably better: {figures}", stays, measurable=True,
                      better=True)


def _by_policy(policy: str, good: bool, why: str, stays: str, *, measurable: bool,
               better: bool | None, worse: list[str] | None = None) -> Decision:
    worse = list(worse or [])
    if policy == "always":
        return Decision(True, f"adopted as asked (--adopt always): {why}", measurable, better, worse, policy)
    if policy == "never":
        return Decision(False, f"not adopted as asked (--adopt never); {stays}: {why}", measurable,
                        better, worse, policy)
    if good:
        return Decision(True, f"adopted: {why}", measurable, better, worse, policy)
    return Decision(False, f"{stays}: {why}", measurable, better, worse, policy)
