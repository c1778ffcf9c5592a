"""The review queue: "Next" (N) takes the reviewer to the next unresolved predicted segment or
boundary, most uncertain first (`sdanet.uncertainty`), and keeps a count of what is left.

Items are the shown predictions (prediction_filter) of the open video and their two boundaries,
ranked from the model's cached scores of that video (set_result / set_scores; without scores:
by each prediction's score relative to its class's best). An item is DONE when
  - its prediction was accepted (a human segment has it as source, whatever happened to that
    segment since: confirmed, edited, relabelled), or
  - a human-made segment (not 'imported') of the same class covers it with temporal IoU >= 0.5
    (the reviewer drew or fixed that action themselves), or
  - it lies inside the reviewed span (review state 'done': everything; 'partial' up to frame N:
    a segment item ending at or before N, a boundary frame before N).
Everything is read from the store at each step; the queue keeps no review state of its own,
only which item it showed last. Going to an item seeks the player (segment: its first frame;
start: its first frame; end: its last frame), selects the prediction and pans/zooms the timeline
when the item is not already fully in view. It never edits anything.
"""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import QObject, Signal

from ...data.units import format_timecode
from ...session.prediction_filter import class_best, relative_score

HUMAN_COVER_IOU = 0.5
BOUNDARY_CONTEXT_S = 1.0  # seconds shown on each side of a boundary when the view must move
KIND_WORDS = {"segment": "segment", "start": "start of", "end": "end of"}


class ReviewQueue(QObject):
    """Ranks and walks the review items of the editor's video.

    Signals: count_changed(left, total) after every edit / new scores; message(text).
    """

    count_changed = Signal(int, int)
    message = Signal(str)

    def __init__(self, editor, parent=None):
        super().__init__(parent)
        self.editor = editor
        self.current: tuple[str, int] | None = None  # ident of the item shown last
        self._scores = None  # (spec, scores [T, C] 0..1, classes, modality_attention [T, M] | None)
        self._version = 0
        self._cache: tuple | None = None
        self.left, self.total = 0, 0
        editor.changed.connect(self.update_count)

    # --- scores -------------------------------------------------------------------------------------
    def set_result(self, result) -> None:
        """The scoring.VideoResult of the open video (None: no scores, rank by prediction score)."""
        if result is None:
            self.set_scores(None)
            return
        from ...sdanet.localization import display_scores

        self.set_scores(result.spec, display_scores(result.cas, result.attention), result.classes,
                        getattr(result, "modality_attention", None))

    def set_scores(self, spec, scores=None, classes=None, modality_attention=None) -> None:
        """spec: FeatureSpec of the snippet grid; scores [T, C] in 0..1 (display scale) with
        columns `classes`; modality_attention [T, M] or None. spec None clears."""
        if spec is None or scores is None:
            self._scores = None
        else:
            self._scores = (spec, np.asarray(scores, np.float32), list(classes),
                            None if modality_attention is None else np.asarray(modality_attention, np.float32))
        self._version += 1
        self.current = None
        self.update_count()

    @property
    def has_scores(self) -> bool:
        return self._scores is not None

    # --- items --------------------------------------------------------------------------------------
    def items(self) -> list:
        """All review items of the shown predictions, most uncertain first (uncertainty.ReviewItem)."""
        from ...sdanet.uncertainty import rank_items

        e = self.editor
        if e.project is None or e.video_id is None:
            return []
        preds = e.visible_predictions()
        key = (self._version, tuple((p.id, p.label, p.start_frame, p.end_frame) for p in preds))
        if self._cache is not None and self._cache[0] == key:
            return self._cache[1]
        best = class_best(preds)
        rows = []
        for p in preds:
            a, b = (float(x) for x in e.clock.frame_to_seconds(np.array([p.start_frame, p.end_frame])))
            rows.append((p.id, p.label, a, b, min(max(relative_score(p.score, best[p.label]), 0.0), 1.0)))
        if self._scores is None:
            ranked = rank_items(rows, None, [], None)
        else:
            spec, scores, classes, modal = self._scores
            ranked = rank_items(rows, scores, classes, spec, modal)
        self._cache = (key, ranked)
        return ranked

    def done(self) -> set[tuple[str, int]]:
        """Idents of the items a human has dealt with (see the module docstring)."""
        e = self.editor
        if e.project is None or e.video_id is None:
            return set()
        project, vid = e.project, e.video_id
        preds = {p.id: p for p in e.visible_predictions()}
        humans = project.segments(vid)
        accepted = {s.source_prediction_id for s in humans if s.source_prediction_id is not None}
        made = [s for s in humans if s.provenance != "imported"]
        span = project.reviewed_span(vid)
        reviewed_to = span[1] if span is not None else 0
        whole = span is not None and (project.review_state(vid).state == "done"
                                      or reviewed_to >= max(e.player.frame_count, 1))
        out = set()
        for pid, p in preds.items():
            if pid in accepted or any(s.label == p.label and _iou(s, p) >= HUMAN_COVER_IOU for s in made):
                out.update({("segment", pid), ("start", pid), ("end", pid)})
                continue
            if whole:
                out.update({("segment", pid), ("start", pid), ("end", pid)})
                continue
            if p.end_frame <= reviewed_to:
                out.add(("segment", pid))
            if p.start_frame < reviewed_to:
                out.add(("start", pid))
            if p.end_frame < reviewed_to:
                out.add(("end", pid))
        return out

    def pending(self) -> list:
        done = self.done()
        return [it for it in self.items() if it.ident not in done]

    def update_count(self) -> None:
        items = self.items()
        done = self.done()
        left = sum(1 for it in items if it.ident not in done)
        if (left, len(items)) != (self.left, self.total):
            self.left, self.total = left, len(items)
            self.count_changed.emit(left, len(items))

    # --- walking ------------------------------------------------------------------------------------
    def next(self) -> object | None:  # noqa: A003
        return self.step(1)

    def previous(self) -> object | None:
        return self.step(-1)

    def step(self, direction: int = 1):
        """Go to the next (direction > 0) / previous unresolved item in ranking order after /
        before the one shown last (wrapping); returns it, or None when nothing is left."""
        ranked = self.items()
        done = self.done()
        pending = [i for i, it in enumerate(ranked) if it.ident not in done]
        self.update_count()
        if not pending:
            self.message.emit(f"Review queue empty: all {len(ranked)} items done" if ranked
                              else "Review queue empty: no predictions to review")
            return None
        idents = [it.ident for it in ranked]
        pos = idents.index(self.current) if self.current in idents else None
        if pos is None:
            k = pending[0] if direction > 0 else pending[-1]
        elif direction > 0:
            k = next((i for i in pending if i > pos), pending[0])
        else:
            k = next((i for i in reversed(pending) if i < pos), pending[-1])
        item = ranked[k]
        self.go_to(item)
        # the same count as the bar's "N of M left" (the item shown is not done yet)
        self.message.emit(
            f"Review: {KIND_WORDS[item.kind]} {item.label} at {format_timecode(item.time)} — "
            f"{item.reason()} (uncertainty {item.uncertainty:.2f}); {len(pending)} of {len(ranked)} left")
        return item

    def go_to(self, item) -> None:
        """Seek to the item, select its prediction, bring it into view."""
        e = self.editor
        p = e.project.predicted_segment(item.key)
        frame = {"segment": p.start_frame, "start": p.start_frame,
                 "end": max(p.start_frame, p.end_frame - 1)}[item.kind]
        self.current = item.ident
        e.player.seek_frame(frame)
        e.select(-item.key)
        if item.kind == "segment":
            a, b = item.start, item.end
        else:
            a, b = item.time - BOUNDARY_CONTEXT_S, item.time + BOUNDARY_CONTEXT_S
        self._bring_into_view(max(a, 0.0), min(b, e.timeline.duration))

    def _bring_into_view(self, a: float, b: float) -> None:
        tl = self.editor.timeline
        lo, hi = tl.x_range()
        if lo <= a and b <= hi:
            return
        duration = tl.duration
        width = min(max(hi - lo, (b - a) * 1.5), duration)
        start = min(max((a + b) / 2 - width / 2, 0.0), max(duration - width, 0.0))
        tl.set_x_range(start, start + width)


def _iou(seg, pred) -> float:
    inter = min(seg.end_frame, pred.end_frame) - max(seg.start_frame, pred.start_frame)
    if inter <= 0:
        return 0.0
    union = max(seg.end_frame, pred.end_frame) - min(seg.start_frame, pred.start_frame)
    return inter / union
