"""What a run will train on, said before it starts: per class, the segments a person drew or
changed, the predictions accepted as they were, and the reviewed background around them.

Why it exists: a model fine-tuned only on its own predictions, accepted in bulk (Shift+Enter
on a video), learns nothing new and reinforces its mistakes: that is self-training, and the
user must be warned before spending minutes on it. The start dialog and `sdanet finetune /
train --project` show the same `TrainingSummary` of the frozen manifest.

Kinds of material (project/schema.py provenances):
  human-edited     "edited" and "added": a person drew or moved the segment;
  confirmed        "confirmed": an imported segment a person confirmed (curated ground truth),
                   and "imported" ones when the run trusts imported ground truth;
  accepted         "accepted-prediction": a prediction taken over unchanged (bulk-accepted);
  background       seconds inside reviewed spans not covered by a segment (what "no action
                   here" teaches), over all classes.
Warnings: `self_training` when every segment is an accepted prediction; `mostly_accepted`
when accepted predictions are at least MOSTLY_ACCEPTED of them.

Pure function of a Manifest; never touches the project.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

MOSTLY_ACCEPTED = 0.8
_KIND = {"edited": "human_edited", "added": "human_edited", "confirmed": "confirmed",
         "imported": "confirmed", "accepted-prediction": "accepted"}


@dataclass
class ClassMaterial:
    human_edited: int = 0
    confirmed: int = 0
    accepted: int = 0

    @property
    def total(self) -> int:
        return self.human_edited + self.confirmed + self.accepted


@dataclass
class TrainingSummary:
    videos: int
    fully_reviewed: int                         # may be held out to measure
    per_class: dict[str, ClassMaterial] = field(default_factory=dict)
    background_s: float = 0.0
    new_classes: list[str] = field(default_factory=list)   # filled by the caller when known

    def totals(self) -> ClassMaterial:
        t = ClassMaterial()
        for m in self.per_class.values():
            t.human_edited += m.human_edited
            t.confirmed += m.confirmed
            t.accepted += m.accepted
        return t

    @property
    def self_training(self) -> bool:
        t = self.totals()
        return t.accepted > 0 and t.human_edited + t.confirmed == 0

    @property
    def mostly_accepted(self) -> bool:
        t = self.totals()
        return t.total > 0 and t.accepted / t.total >= MOSTLY_ACCEPTED

    def warning(self) -> str:
        """The self-training warning for the user ("" when there is none)."""
        t = self.totals()
        if self.self_training:
            return (f"All {t.accepted} segments are predictions accepted as they were: the model "
                    f"would learn its own output (self-training) and cannot get better from it. "
                    f"Correct or add segments where it was wrong first.")
        if self.mostly_accepted:
            return (f"{t.accepted} of {t.total} segments are predictions accepted as they were: "
                    f"mostly the model's own output (self-training); it learns only from the "
                    f"{t.human_edited + t.confirmed} you drew, moved or confirmed.")
        return ""

    def lines(self) -> list[str]:
        """Per class "Flash: 3 drawn or edited, 1 confirmed, 5 accepted predictions" and a total."""
        out = []
        for name, m in self.per_class.items():
            if m.total:
                new = " (new class)" if name in self.new_classes else ""
                out.append(f"{name}{new}: {m.human_edited} drawn or edited, {m.confirmed} confirmed, "
                           f"{m.accepted} accepted predictions")
        out.append(f"reviewed background: {self.background_s:.1f} s in {self.videos} videos "
                   f"({self.fully_reviewed} reviewed to the end)")
        return out

    def to_dict(self) -> dict:
        return {"videos": self.videos, "fully_reviewed": self.fully_reviewed,
                "per_class": {k: asdict(v) for k, v in self.per_class.items()},
                "background_s": self.background_s, "new_classes": list(self.new_classes),
                "self_training": self.self_training, "warning": self.warning()}


def summarize_material(manifest) -> TrainingSummary:
    """The TrainingSummary of a frozen manifest (project/manifest.py); videos without features
    are left out, as the run leaves them out."""
    videos = [v for v in manifest.videos if v.feature_ref]
    summary = TrainingSummary(len(videos), sum(1 for v in videos if v.fully_reviewed),
                              {c: ClassMaterial() for c in manifest.classes})
    for v in videos:
        covered = []
        for s in v.segments:
            kind = _KIND.get(s.provenance)
            if kind is None:
                continue
            m = summary.per_class.setdefault(s.label, ClassMaterial())
            setattr(m, kind, getattr(m, kind) + 1)
            covered.append((s.start_s, s.end_s))
        for a, b in v.reviewed_spans_s:
            summary.background_s += max(0.0, float(b) - float(a) - _overlap(covered, float(a), float(b)))
    return summary


def _overlap(spans, a: float, b: float) -> float:
    """Seconds of [a, b) covered by the union of `spans`."""
    total, end = 0.0, a
    for s, e in sorted((max(a, s), min(b, e)) for s, e in spans):
        if e <= end:
            continue
        total += e - max(s, end)
        end = e
    return total
