"""Segment editing for one open video: turns timeline gestures and keys into the project's edit
commands, pushes them on a QUndoStack, and redraws the lanes from the store after each one.

The store (`project.Project`) holds the truth: segments are frames there; this controller never
keeps its own copy beyond what the lanes display, and it converts seconds <-> frames only through
the video's `FrameClock` (`data.units`). One user gesture = one command: a drag commits once, on
release. The QUndoStack adapter maps redo()->apply, undo()->undo, id()->id(),
mergeWith()->merge_with; a command's first apply happens BEFORE it is pushed, so an invalid edit
(UserError) is reported and never enters the undo history.
"""

from __future__ import annotations

import logging
from typing import Callable

import numpy as np
from PySide6.QtCore import QObject, QTimer, Signal
from PySide6.QtGui import QUndoCommand, QUndoStack

from ...data.units import format_timecode
from ...errors import UserError
from ...project.commands import describe
from ...session.prediction_filter import DEFAULT_MIN_RELATIVE, SETTING_KEY, class_best, relative_score, visible_predictions
from . import preferences
from .kinds import KIND_CODE, PREDICTED

log = logging.getLogger(__name__)

NUDGE_RETURN_MS = 1200   # a nudged boundary is shown this long after the last nudge


class ProjectUndoCommand(QUndoCommand):
    """A project EditCommand on a QUndoStack. The command is already applied when pushed.

    `run(fn) -> bool` runs an apply/undo and says whether it worked (the controller reports a
    refused one); `refresh()` redraws what the store now holds."""

    def __init__(self, command, project, run: Callable[[Callable], bool], refresh: Callable[[], None]):
        super().__init__(describe(command, project))
        self.command = command
        self.project = project
        self.run = run
        self.refresh = refresh
        self._skip_redo = True  # QUndoStack.push() calls redo(); the edit is already on disk

    def redo(self):
        if self._skip_redo:
            self._skip_redo = False
        elif not self.run(lambda: self.command.apply(self.project)):
            self.setObsolete(True)  # the store changed under it: drop it from the history
        self.refresh()

    def undo(self):
        if not self.run(lambda: self.command.undo(self.project)):
            self.setObsolete(True)
        self.refresh()

    def id(self) -> int:  # noqa: A003
        return int(self.command.id())

    def mergeWith(self, other) -> bool:  # noqa: N802
        if not isinstance(other, ProjectUndoCommand):
            return False
        merged = self.command.merge_with(other.command)
        if merged:
            self.setText(describe(self.command, self.project))
            # a step that now changes nothing (a drag back to where it started, before any
            # provenance change) leaves the history, as QUndoStack does with obsolete commands
            self.setObsolete(self.command.is_obsolete())
        return merged


def push_edit(stack: QUndoStack, command, project, run: Callable[[Callable], bool],
              refresh: Callable[[], None]) -> bool:
    """The one way an edit enters the project and the undo history: apply `command` (one
    transaction, on disk when this returns; `run` reports a refusal and returns False), then put
    it on `stack`, where it may merge with the step on top. A command that changed nothing is
    not recorded. Returns whether the edit was applied."""
    if not run(lambda: command.apply(project)):
        return False
    if command.is_obsolete():
        refresh()
        return True
    stack.push(ProjectUndoCommand(command, project, run, refresh))
    return True


class EditController(QObject):
    """Selection and edits of the human segments of one video, drawn on a TimelineWidget.

    Selection: `selected_id` (> 0 a human segment, < 0 a prediction, negated) and `selected_part`
    ('start' | 'end' | 'body', which nudges move). Signals: changed() after every refresh;
    selection_changed(seg_id or 0); message(text) for the status bar.
    """

    changed = Signal()
    selection_changed = Signal(int)
    message = Signal(str)

    def __init__(self, timeline, player, parent=None):
        super().__init__(parent)
        self.timeline = timeline
        self.player = player
        self.undo_stack = QUndoStack(self)
        self.project = None
        self.video_id: int | None = None
        self.clock = None
        self.classes: list[str] = []
        self.selected_id: int | None = None
        self.selected_part = "body"
        self.current_row = 0
        self.mark_in: int | None = None
        self.mark_out: int | None = None
        self._rows: dict[int, int] = {}  # segment id -> lane row
        self.min_relative_score = DEFAULT_MIN_RELATIVE  # prediction_filter: what is shown
        # model versions (set by the window): predictions shown are the active version's (None:
        # every stored prediction); with show_previous, the previous version's in their sub-band
        self.model_version_id: int | None = None
        self.previous_version_id: int | None = None
        self.show_previous = False
        # see what you set: while a boundary is dragged or nudged the player shows its frame;
        # afterwards it returns to where the reviewer was (preferences.RETURN_SETTING)
        self.return_after_edit = preferences.return_after_edit()
        self._return_to: tuple[int, bool] | None = None  # (frame, was playing) before the edit
        self._nudge_done = QTimer(self)
        self._nudge_done.setSingleShot(True)
        self._nudge_done.setInterval(NUDGE_RETURN_MS)
        self._nudge_done.timeout.connect(self._edit_finished)
        timeline.segment_clicked.connect(self._on_clicked)
        timeline.segment_changed.connect(self._on_dragged)
        timeline.segment_drawn.connect(self._on_drawn)
        timeline.boundary_moving.connect(lambda row, seconds, side: self._show_edge(seconds, side))
        timeline.drag_finished.connect(lambda row: self._edit_finished())

    # --- binding to a video --------------------------------------------------------------------------
    def set_video(self, project, video_id: int, clock) -> None:
        """Edit `video_id` of `project`; `clock` is the decoder's FrameClock of that video."""
        self.project, self.video_id, self.clock = project, int(video_id), clock
        self.classes = list(project.classes())
        self.undo_stack.clear()
        value = project.get_setting(SETTING_KEY, DEFAULT_MIN_RELATIVE)
        self.min_relative_score = float(value) if isinstance(value, (int, float)) else DEFAULT_MIN_RELATIVE
        self.selected_id, self.mark_in, self.mark_out = None, None, None
        self.timeline.set_duration(
            clock.duration, snap=self.snap_seconds,
            min_length=float(clock.frame_to_seconds(1) - clock.frame_to_seconds(0)) if clock.frame_count > 1 else 1e-3)
        if self.timeline.classes != self.classes:
            self.timeline.set_classes(self.classes)
        self.refresh()

    def row_of(self, seg_id: int) -> int | None:
        """The lane row segment `seg_id` (> 0 human, < 0 prediction) is drawn in, or None."""
        return self._rows.get(seg_id)

    def snap_seconds(self, seconds: float) -> float:
        """A time moved to the nearest frame boundary of the video."""
        return float(self.clock.frame_to_seconds(self.clock.seconds_to_boundary(seconds)))

    def frames_of(self, start_s: float, end_s: float) -> tuple[int, int]:
        return int(self.clock.seconds_to_boundary(start_s)), int(self.clock.seconds_to_boundary(end_s))

    # --- which predictions are shown ------------------------------------------------------------------
    def visible_predictions(self) -> list:
        """The stored predictions of this video that pass the display filter (prediction_filter)."""
        if self.project is None or self.video_id is None:
            return []
        return visible_predictions(self._predictions(self.model_version_id), self.min_relative_score)

    def _predictions(self, model_version_id: int | None) -> list:
        """Stored predictions of this video by one model version (None: all versions)."""
        return self.project.predicted_segments(self.video_id, model_version_id)

    def _previous_rows(self) -> dict[int, tuple]:
        """row -> (starts s, ends s, opacity 0..1) of the previous version's shown predictions."""
        if not self.show_previous or self.previous_version_id is None:
            return {}
        predictions = self._predictions(self.previous_version_id)
        best = class_best(predictions)
        row_of = {c: i for i, c in enumerate(self.classes)}
        out: dict[int, list] = {}
        for p in visible_predictions(predictions, self.min_relative_score):
            if p.label in row_of:
                out.setdefault(row_of[p.label], []).append(
                    (p.start_frame, p.end_frame, min(max(relative_score(p.score, best[p.label]), 0.0), 1.0)))
        rows = {}
        for r, items in out.items():
            a = np.array(items, dtype=np.float64)
            rows[r] = (self.clock.frame_to_seconds(a[:, 0].astype(np.int64)),
                       self.clock.frame_to_seconds(a[:, 1].astype(np.int64)), a[:, 2])
        return rows

    def set_prediction_filter(self, min_relative: float) -> None:
        """Show predictions scoring >= min_relative x their class's best (0: all); saved in the
        project's settings; redraws the lanes (and, through changed(), the table)."""
        self.min_relative_score = min(max(float(min_relative), 0.0), 1.0)
        if self.project is not None:
            self.project.set_setting(SETTING_KEY, self.min_relative_score)
            self.refresh()

    # --- reading the store into the lanes ------------------------------------------------------------
    def segments(self):
        return self.project.segments(self.video_id) if self.project is not None else []

    def refresh(self) -> None:
        """Redraw every lane from the store (cheap: one query, numpy per lane)."""
        if self.project is None:
            return
        if list(self.project.classes()) != self.classes:
            self.classes = list(self.project.classes())
            self.timeline.set_classes(self.classes)
        row_of = {c: i for i, c in enumerate(self.classes)}
        per_row: dict[int, list[tuple]] = {i: [] for i in range(len(self.classes))}
        self._rows = {}
        for seg in self.segments():
            r = row_of[seg.label]
            per_row[r].append((seg.id, seg.start_frame, seg.end_frame, np.nan, KIND_CODE[seg.provenance]))
            self._rows[seg.id] = r
        predictions = self._predictions(self.model_version_id)
        best = class_best(predictions)  # lane opacity: score relative to the class's best (0..1)
        for p in visible_predictions(predictions, self.min_relative_score):
            r = row_of[p.label]
            per_row[r].append((-p.id, p.start_frame, p.end_frame,
                               min(max(relative_score(p.score, best[p.label]), 0.0), 1.0), PREDICTED))
            self._rows[-p.id] = r
        for r, rows in per_row.items():
            lane = self.timeline.lane(r)
            if rows:
                a = np.array(rows, dtype=np.float64)
                ids = a[:, 0].astype(np.int64)
                starts = self.clock.frame_to_seconds(a[:, 1].astype(np.int64))
                ends = self.clock.frame_to_seconds(a[:, 2].astype(np.int64))
                lane.set_segments(ids, starts, ends, a[:, 3], a[:, 4].astype(np.int8))
            else:
                lane.set_segments([], [], [])
        previous = self._previous_rows()
        shown = self.show_previous and self.previous_version_id is not None
        for r in per_row:
            self.timeline.lane(r).set_previous(*previous.get(r, ((), (), ())), shown=shown)
        if self.selected_id is not None and self.selected_id not in self._rows:
            self.selected_id = None
        self._show_selection()
        self.changed.emit()

    # --- selection ----------------------------------------------------------------------------------
    def select(self, seg_id: int | None, part: str = "body") -> None:
        self.selected_id = None if not seg_id else int(seg_id)
        self.selected_part = part if self.selected_id and self.selected_id > 0 else "body"
        if self.selected_id is not None:
            self.current_row = self._rows.get(self.selected_id, self.current_row)
            self.timeline.focus_class(self.current_row)
        self._show_selection()
        self.selection_changed.emit(self.selected_id or 0)

    def _show_selection(self) -> None:
        for lane in self.timeline.lanes:
            lane.select(self.selected_id if self._rows.get(self.selected_id) == lane.row else None)

    def selected_frames(self) -> tuple[int, int] | None:
        if self.selected_id is None or self.selected_id < 0:
            return None
        seg = self.project.segment(self.selected_id)
        return seg.start_frame, seg.end_frame

    def select_next(self, step: int = 1) -> None:
        """Tab / Shift+Tab: the next / previous human segment in time (all classes)."""
        segs = sorted(self.segments(), key=lambda s: (s.start_frame, s.id))
        if not segs:
            return
        ids = [s.id for s in segs]
        if self.selected_id in ids:
            k = (ids.index(self.selected_id) + step) % len(ids)
        else:  # start from the playhead
            pos = self.player.position
            after = [i for i, s in enumerate(segs) if s.start_frame >= pos]
            k = after[0] if step > 0 and after else (len(segs) - 1 if step < 0 else 0)
        self.select(ids[k])
        seg = segs[k]
        self.player.seek_frame(seg.start_frame)

    # --- gestures from the timeline --------------------------------------------------------------------
    def _on_clicked(self, row: int, seg_id: int, seconds: float) -> None:
        self.current_row = row
        if seg_id:
            part = "body"
            if seg_id > 0:
                s, e = self.timeline.lane(row).segment(seg_id)
                tol = self.timeline.lane(row)._tolerance()
                part = "start" if abs(seconds - s) <= tol else "end" if abs(seconds - e) <= tol else "body"
            self.select(seg_id, part)
        else:
            self.select(None)
            self.player.seek_seconds(seconds)

    def _on_dragged(self, row: int, seg_id: int, start_s: float, end_s: float) -> None:
        from ...project.commands import MoveBoundary, MoveSegment

        seg = self.project.segment(seg_id)
        sf, ef = self.frames_of(start_s, end_s)
        if sf != seg.start_frame and ef != seg.end_frame:
            self.push(MoveSegment(seg_id, sf - seg.start_frame))
            self.select(seg_id, "body")
        elif ef != seg.end_frame:
            self.push(MoveBoundary(seg_id, "end", ef))
            self.select(seg_id, "end")
        elif sf != seg.start_frame:
            self.push(MoveBoundary(seg_id, "start", sf))
            self.select(seg_id, "start")

    def _on_drawn(self, row: int, start_s: float, end_s: float) -> None:
        sf, ef = self.frames_of(start_s, end_s)
        self.add(row, sf, ef)

    # --- edits ------------------------------------------------------------------------------------------
    def push(self, command) -> bool:
        """Apply `command` (one transaction, on disk when this returns) and put it on the stack."""
        return push_edit(self.undo_stack, command, self.project, self._run, self.refresh)

    def _run(self, fn) -> bool:
        try:
            fn()
            return True
        except UserError as exc:
            self.message.emit(str(exc))
            log.info("edit refused: %s", exc)
            return False

    def add(self, row: int, start_frame: int, end_frame: int) -> bool:
        from ...project.commands import AddSegment

        if end_frame <= start_frame:
            return False
        if self.project is None or not 0 <= row < len(self.classes):
            self.message.emit("Open the video in a project with classes to add segments")
            return False
        before = set(self._rows)
        if not self.push(AddSegment(self.video_id, self.classes[row], start_frame, end_frame)):
            return False
        new = [i for i in self._rows if i > 0 and i not in before]
        if new:
            self.select(new[0])
        return True

    def nudge(self, frames: int) -> None:
        """Move the selected boundary (or the whole segment when its body is selected)."""
        from ...project.commands import MoveBoundary, MoveSegment

        span = self.selected_frames()
        if span is None:
            self.message.emit("Select a segment to nudge")
            return
        sid = self.selected_id
        if self.selected_part == "start":
            ok = self.push(MoveBoundary(sid, "start", span[0] + frames))
        elif self.selected_part == "end":
            ok = self.push(MoveBoundary(sid, "end", span[1] + frames))
        else:
            ok = self.push(MoveSegment(sid, frames))
        self.select(sid, self.selected_part)
        if ok:
            seg = self.project.segment(sid)
            side = "end" if self.selected_part == "end" else "start"
            self._show_edge(self.clock.frame_to_seconds(seg.end_frame if side == "end" else seg.start_frame), side)
            self._nudge_done.start()   # back to the reviewer's place once the nudging stops

    def _show_edge(self, seconds: float, side: str) -> None:
        """Show the frame at a boundary being edited: a start's first frame, an end's last one.
        The first call of an edit remembers where the reviewer was (playback pauses)."""
        if self.clock is None or self.player.reader is None:
            return
        if self._return_to is None:
            self._return_to = (self.player.position, self.player.playing)
            if self.player.playing:
                self.player.pause()
        boundary = int(self.clock.seconds_to_boundary(seconds))
        frame = boundary - 1 if side == "end" else boundary
        self.player.seek_frame(min(max(frame, 0), max(self.player.frame_count - 1, 0)))

    def _edit_finished(self) -> None:
        """The drag ended (or the nudging stopped): back to the reviewer's place, if wanted."""
        back, self._return_to = self._return_to, None
        self._nudge_done.stop()
        if back is None or not self.return_after_edit or self.player.reader is None:
            return
        frame, was_playing = back
        self.player.seek_frame(frame)
        if was_playing:
            self.player.play()

    def set_return_after_edit(self, on: bool) -> None:
        """The user's choice (View menu), remembered for next time."""
        self.return_after_edit = bool(on)
        try:
            preferences.set_return_after_edit(on)
        except UserError as exc:
            log.warning("cannot save the edit preference: %s", exc)

    def _target_segment(self) -> int | None:
        """The selected human segment, else the one under the playhead in the current lane."""
        if self.selected_id is not None and self.selected_id > 0:
            return self.selected_id
        pos = self.player.position
        for seg in self.segments():
            if seg.start_frame <= pos < seg.end_frame and self._rows.get(seg.id) == self.current_row:
                return seg.id
        return None

    def split_at_playhead(self) -> None:
        from ...project.commands import SplitSegment

        sid = self._target_segment()
        if sid is None:
            self.message.emit("No segment under the playhead to split")
            return
        self.push(SplitSegment(sid, self.player.position))

    def merge_with_next(self) -> None:
        from ...project.commands import MergeWithNeighbour

        sid = self._target_segment()
        if sid is not None:
            self.push(MergeWithNeighbour(sid, "next"))
            self.select(sid)

    def delete_selected(self) -> None:
        from ...project.commands import DeleteSegments

        if self.selected_id is not None and self.selected_id > 0:
            self.push(DeleteSegments([self.selected_id]))
            self.select(None)

    def relabel(self, class_index: int) -> None:
        from ...project.commands import Relabel

        if not 0 <= class_index < len(self.classes):
            return
        if self.selected_id is not None and self.selected_id > 0:
            sid = self.selected_id
            self.push(Relabel([sid], self.classes[class_index]))
            self.select(sid)

    def confirm_selected(self) -> None:
        """Enter: confirm the selected human segment, or accept the selected prediction."""
        from ...project.commands import AcceptPredictions, ConfirmSegments

        if self.selected_id is None:
            return
        if self.selected_id > 0:
            self.push(ConfirmSegments([self.selected_id]))
        else:
            before = set(self._rows)
            if self.push(AcceptPredictions([-self.selected_id])):
                new = [i for i in self._rows if i > 0 and i not in before]
                if new:
                    self.select(new[0])

    def edit_field(self, seg_id: int, field: str, text: str) -> bool:
        """An edit typed in the segment table: 'label' (a class name), 'start' / 'end' (a time
        as hh:mm:ss.fff, mm:ss or seconds, moved to the nearest frame boundary)."""
        from ...data.units import parse_timecode
        from ...project.commands import MoveBoundary, Relabel

        text = text.strip()
        if field == "label":
            if text not in self.classes:
                self.message.emit(f"'{text}' is not a class of this project")
                self.refresh()
                return False
            ok = self.push(Relabel([seg_id], text))
        else:
            try:
                seconds = parse_timecode(text)
            except ValueError as exc:
                self.message.emit(str(exc))
                self.refresh()
                return False
            ok = self.push(MoveBoundary(seg_id, field, int(self.clock.seconds_to_boundary(seconds))))
        if not ok:
            self.refresh()  # put the table back to what the store holds
        self.select(seg_id)
        return ok

    def mark_in_here(self) -> None:
        self.mark_in = self.player.position
        self._maybe_add_from_marks()

    def mark_out_here(self) -> None:
        self.mark_out = self.player.position + 1  # the frame at the playhead is included
        self._maybe_add_from_marks()

    def _maybe_add_from_marks(self) -> None:
        if self.mark_in is not None and self.mark_out is not None:
            if self.mark_out > self.mark_in:
                if self.add(self.current_row, self.mark_in, self.mark_out):  # "Add …" replaces "Mark in …"
                    self.message.emit(self.undo_stack.text(self.undo_stack.index() - 1))
            else:
                self.message.emit("Mark out is before mark in: nothing added")
            self.mark_in = self.mark_out = None
            return
        which, other = ("in", "O") if self.mark_in is not None else ("out", "I")
        self.message.emit(f"Mark {which} at {format_timecode(self.player.seconds())}: press {other} "
                          f"at the other end to add the segment")

    # --- review: confirm what is in view, review state (each one command on the undo stack) -----
    def predictions_in_view(self) -> list:
        """The shown predictions lying entirely inside the timeline's visible x-range."""
        if self.project is None:
            return []
        lo, hi = self.timeline.x_range()
        first, last = self.frames_of(max(lo, 0.0), max(hi, 0.0))
        return [p for p in self.visible_predictions() if p.start_frame >= first and p.end_frame <= last]

    def confirm_all_in_view(self) -> None:
        """Accept every shown prediction inside the visible x-range as ONE undoable command
        (predictions already accepted are skipped by the command)."""
        from ...project.commands import AcceptPredictions

        preds = self.predictions_in_view()
        if not preds:
            self.message.emit("No predictions in view to confirm")
            return
        command = AcceptPredictions([p.id for p in preds])
        if self.push(command):
            n = len(command.changes)
            self.message.emit(f"Confirmed {n} prediction(s) in view" if n
                              else "The predictions in view were already confirmed")

    def mark_reviewed_to_playhead(self) -> None:
        """The video is reviewed up to and including the frame under the playhead ('partial')."""
        from ...project.commands import SetReviewState

        if self.project is None or self.video_id is None:
            return
        to = min(self.player.position + 1, max(self.player.frame_count, 1))
        if self.push(SetReviewState(self.video_id, "partial", reviewed_to=to)):
            self.message.emit(f"Reviewed up to {format_timecode(self.clock.frame_to_seconds(to))}")

    def mark_done(self) -> None:
        """The whole video is reviewed ('done')."""
        from ...project.commands import SetReviewState

        if self.project is None or self.video_id is None:
            return
        if self.push(SetReviewState(self.video_id, "done")):
            self.message.emit("Video marked done")

    def relabel_or_accept(self, class_index: int) -> None:
        """Give the selection class `class_index`: a human segment is relabelled; a selected
        prediction is accepted and relabelled in ONE undo step (a macro of the two commands)."""
        if not 0 <= class_index < len(self.classes) or self.selected_id is None:
            return
        if self.selected_id > 0:
            self.relabel(class_index)
            return
        self.undo_stack.beginMacro(f"Accept prediction {-self.selected_id} as {self.classes[class_index]}")
        try:
            self.confirm_selected()
            if self.selected_id is not None and self.selected_id > 0:
                self.relabel(class_index)
        finally:
            self.undo_stack.endMacro()
