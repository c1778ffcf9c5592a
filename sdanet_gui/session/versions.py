"""What changed when another model version became active, and a version's fine-tuning figures.

Why: after fine-tuning (or loading another checkpoint) the user must see whether the new model is
better and what it changed. `compare_predictions` / `ChangeSummary`: per video, the SHOWN
predicted segments of the new version against those of the previous one (added / removed /
changed / unchanged); `finetune_map`: the held-out mAP a version's metrics recorded. Pure
functions over the store's records; the session computes the summary when a switch has been
scored, views only show it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Sequence

# Two predictions of the same class are "the same segment, changed" when their temporal IoU
# (in frames) is at least this; below it the old one counts as removed and the new as added.
# 0.5 is the usual detection match criterion (mAP@0.5), so a "changed" segment is one that
# would still hit the same ground truth at the common threshold.
MATCH_TIOU = 0.5


# --- what changed -----------------------------------------------------------------------------

@dataclass
class VideoChange:
    """How one video's shown predictions differ between two model versions (counts)."""

    video: str
    added: int = 0
    removed: int = 0
    changed: int = 0
    unchanged: int = 0

    @property
    def any(self) -> bool:
        return bool(self.added or self.removed or self.changed)


def _tiou(a, b) -> float:
    inter = min(a.end_frame, b.end_frame) - max(a.start_frame, b.start_frame)
    if inter <= 0:
        return 0.0
    return inter / float(max(a.end_frame, b.end_frame) - min(a.start_frame, b.start_frame))


def compare_predictions(video: str, old: Sequence, new: Sequence, min_tiou: float = MATCH_TIOU) -> VideoChange:
    """Match `new` predictions (records with label, start_frame, end_frame) to `old` ones of the
    same class: identical frames = unchanged; otherwise the best remaining pairs with tIoU >=
    `min_tiou` (greedy, highest first) = changed; the rest of `new` = added, of `old` = removed."""
    out = VideoChange(video)
    old_left, new_left = list(old), []
    for p in new:
        twin = next((i for i, q in enumerate(old_left) if (q.label, q.start_frame, q.end_frame)
                     == (p.label, p.start_frame, p.end_frame)), None)
        if twin is None:
            new_left.append(p)
        else:
            old_left.pop(twin)
            out.unchanged += 1
    pairs = sorted(((_tiou(p, q), i, j) for i, p in enumerate(new_left) for j, q in enumerate(old_left)
                    if p.label == q.label), reverse=True)
    used_new, used_old = set(), set()
    for t, i, j in pairs:
        if t < min_tiou:
            break
        if i not in used_new and j not in used_old:
            used_new.add(i)
            used_old.add(j)
            out.changed += 1
    out.added = len(new_left) - len(used_new)
    out.removed = len(old_left) - len(used_old)
    return out


@dataclass
class ChangeSummary:
    """What the user is told when a model version became active (after its scoring ended)."""

    new_name: str
    previous_name: str | None
    videos: list[VideoChange] = field(default_factory=list)
    not_scored: list[str] = field(default_factory=list)  # videos without features / scores

    def totals(self) -> VideoChange:
        t = VideoChange("all")
        for v in self.videos:
            t.added += v.added
            t.removed += v.removed
            t.changed += v.changed
            t.unchanged += v.unchanged
        return t

    def short_text(self) -> str:
        """One status-bar line."""
        if not self.videos:
            return (f"Model '{self.new_name}' active; no video has features or cached scores to "
                    f"compare (extract features: Model > Extract features…)")
        if self.previous_name is None:
            n = sum(v.added for v in self.videos)
            return f"Model '{self.new_name}' active: {n} predicted segments in {len(self.videos)} videos"
        t = self.totals()
        changed_videos = sum(1 for v in self.videos if v.any)
        return (f"Model '{self.new_name}' active (was '{self.previous_name}'): {changed_videos} of "
                f"{len(self.videos)} videos changed — predicted segments +{t.added} added, "
                f"−{t.removed} removed, {t.changed} changed, {t.unchanged} unchanged")

    def details_text(self) -> str:
        """Per video, for the log and the Versions dialog."""
        lines = [self.short_text()]
        for v in self.videos:
            lines.append(f"  {v.video}: +{v.added} added, −{v.removed} removed, {v.changed} changed, "
                         f"{v.unchanged} unchanged")
        if self.not_scored:
            lines.append(f"  not scored (no features or cached scores): {', '.join(self.not_scored)}")
        return "\n".join(lines)


def summarize_change(project, previous, new, videos: Sequence[str], scored) -> ChangeSummary:
    """The change summary of a switch from model version `previous` (or None) to `new` over
    `videos` (names); those not in `scored` (no scores under `new`) are listed as not scored.
    Compares what the reviewer SEES: each version's predictions through the project's display
    filter (prediction_filter), not the soft-NMS duplicates the store also keeps."""
    from .prediction_filter import DEFAULT_MIN_RELATIVE, SETTING_KEY, visible_predictions

    value = project.get_setting(SETTING_KEY, DEFAULT_MIN_RELATIVE)
    min_relative = float(value) if isinstance(value, (int, float)) else DEFAULT_MIN_RELATIVE
    summary = ChangeSummary(new.name, previous.name if previous is not None else None)
    for name in videos:
        rec = project.find_video(name)
        if rec is None or name not in scored:
            summary.not_scored.append(name)
            continue
        shown = visible_predictions(project.predicted_segments(rec.id, new.id), min_relative)
        before = (visible_predictions(project.predicted_segments(rec.id, previous.id), min_relative)
                  if previous is not None else [])
        summary.videos.append(compare_predictions(name, before, shown))
    return summary


# --- naming --------------------------------------------------------------------------------------

DEMO_NOTE = "the bundled demo model: 4 made-up classes of generated shapes, not for real videos"


@lru_cache(maxsize=64)
def _sha256(path: str, size: int, mtime_ns: int) -> str:
    import hashlib

    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def _digest(path: Path) -> str | None:
    try:
        st = path.stat()
    except OSError:
        return None
    return _sha256(str(path.resolve()), st.st_size, st.st_mtime_ns)


def is_demo_checkpoint(path) -> bool:
    """True when `path` holds the bundled demo checkpoint (same bytes, wherever it was copied)."""
    from ..bundled import model_files

    if path is None or not Path(path).is_file():
        return False
    demo = Path(str(model_files() / "demo.pt"))
    return Path(path).stat().st_size == demo.stat().st_size and _digest(Path(path)) == _digest(demo)


def version_label(project, mv) -> str:
    """A model version's name as offered to the user: the demo model says it is one."""
    if mv is None:
        return "no model"
    if is_demo_checkpoint(project.model_checkpoint(mv)):
        return f"{mv.name} ({DEMO_NOTE})"
    return mv.name


# --- metrics ----------------------------------------------------------------------------------

def held_out_text(mv) -> str:
    """What a trained version's held-out figure rests on, for the Versions list: "4 videos, 17
    segments, +3.1 (+0.4 to +5.9)"; "" when it recorded none."""
    metrics = mv.metrics if isinstance(mv.metrics, dict) else {}
    report = metrics.get("held_out_report")
    if not isinstance(report, dict) or not report.get("videos"):
        return ""
    text = f"{report['videos']} videos, {report.get('segments', 0)} segments"
    interval = report.get("interval")
    if report.get("before") is not None and report.get("after") is not None and interval:
        text += (f", {100 * (report['after'] - report['before']):+.1f} "
                 f"({100 * interval[0]:+.1f} to {100 * interval[1]:+.1f})")
    return text


def finetune_map(mv) -> tuple[float | None, float | None]:
    """(before, after) held-out average mAP of a fine-tuned version; (None, None) otherwise.
    Reads metrics["finetune"] (the engine's checkpoint metrics) or the metrics themselves (the
    fine-tune job's "done" message carries before/after at the top level)."""
    metrics = mv.metrics if isinstance(mv.metrics, dict) else {}
    f = metrics.get("finetune", metrics)
    if not isinstance(f, dict):
        return None, None

    def avg(key):
        m = f.get(key)
        v = m.get("average_mAP") if isinstance(m, dict) else None
        return float(v) if isinstance(v, (int, float)) else None

    return avg("before"), avg("after")


def finetune_map_text(mv) -> str:
    """"before → after" in percent for the Versions list; "—" for a version not fine-tuned."""
    before, after = finetune_map(mv)
    if before is None and after is None:
        return "—"

    def pct(v):
        return "n/a" if v is None else f"{100 * v:.1f}"

    return f"{pct(before)} → {pct(after)}"
