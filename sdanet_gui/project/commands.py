"""Edit commands: every change a reviewer makes to segments or review state, undoable exactly.

A command is built from the user's intent (e.g. "move the end of segment 12 to frame 480"),
and the first `apply(project)` turns that intent into a list of row changes (`Change`: table,
key, row before, row after), validated against the invariants, and writes them in ONE
transaction. `undo` writes the rows before, `apply` again (redo) the rows after, each in one
transaction, so undo/redo are exact by construction and never re-run the edit logic. Every
apply/undo appends to the project's edit log in the same transaction and returns its id: once
a call returns, the edit is on disk.

Shaped for Qt's QUndoStack (a thin adapter in ui/ maps redo()->apply, undo()->undo,
id()->id(), mergeWith()->merge_with): consecutive drags of one boundary (`MoveBoundary`) or
of one segment (`MoveSegment`) merge into one undo step. `touched` says which videos and
segments a command changed so views refresh only those.

Invariants (a violating edit raises UserError and changes nothing): start >= 0, end > start,
end <= the video's frame count when known, the class exists, provenance is one of
schema.PROVENANCES and survives edits (an imported / accepted / confirmed segment becomes
'edited' when its frames or class change, an added one stays 'added'; source ids are kept).

This module must never import Qt or touch files other than through `Project`.
"""

from __future__ import annotations

import abc
from dataclasses import dataclass, field
from typing import Iterable

from ..errors import UserError
from .schema import PROVENANCES, REVIEW_STATES
from .store import Project, now_iso

MERGE_MOVE_BOUNDARY = 1001
MERGE_MOVE_SEGMENT = 1002


@dataclass
class Change:
    table: str             # 'segments' or 'review'
    key: int
    before: dict | None    # None: the row did not exist
    after: dict | None     # None: the row is deleted

    def to_json(self) -> dict:
        return {"table": self.table, "key": self.key, "before": self.before, "after": self.after}


@dataclass
class Touched:
    videos: set[int] = field(default_factory=set)
    segments: set[int] = field(default_factory=set)


class EditCommand(abc.ABC):
    """Base class. Subclasses implement `_plan(project) -> list[Change]` and set `text`."""

    text: str = "Edit"
    merge_id: int = -1

    def __init__(self) -> None:
        self._changes: list[Change] | None = None
        self.last_edit_id: int | None = None

    # --- QUndoCommand-like surface ------------------------------------------------------------
    def id(self) -> int:  # noqa: A003 - the name QUndoCommand uses
        return self.merge_id

    def merge_with(self, other: "EditCommand") -> bool:
        """Absorb `other` (already applied after self) into this one undo step, if compatible."""
        if (self.merge_id == -1 or other.merge_id != self.merge_id or type(other) is not type(self)
                or self._merge_key() != other._merge_key() or self._changes is None
                or other._changes is None):
            return False
        mine = {(c.table, c.key): c for c in self._changes}
        for ch in other._changes:
            if (ch.table, ch.key) in mine:
                mine[(ch.table, ch.key)].after = ch.after
            else:
                self._changes.append(Change(ch.table, ch.key, ch.before, ch.after))
        self._absorb(other)
        return True

    def is_obsolete(self) -> bool:
        """True when applying changed nothing (QUndoCommand.isObsolete)."""
        return self._changes is not None and all(c.before == c.after for c in self._changes)

    @property
    def applied_once(self) -> bool:
        return self._changes is not None

    @property
    def changes(self) -> list[Change]:
        return list(self._changes or [])

    @property
    def touched(self) -> Touched:
        t = Touched()
        for ch in self._changes or []:
            for row in (ch.before, ch.after):
                if row:
                    t.videos.add(int(row["video_id"]))
            if ch.table == "segments":
                t.segments.add(int(ch.key))
        return t

    # --- doing and undoing --------------------------------------------------------------------
    def apply(self, project: Project) -> int:
        """Do (first time) or redo the edit in one transaction; return the edit-log id."""
        with project.transaction():
            if self._changes is None:
                changes = self._plan(project)
                action = "do"
            else:
                changes = self._changes
                self._expect(project, changes, "before")
                for ch in changes:
                    project.write_row(ch.table, ch.key, ch.after)
                action = "redo"
            edit_id = project.log_edit(action, type(self).__name__, self.text,
                                       self._videos(changes), [c.to_json() for c in changes])
        self._changes = changes
        self.last_edit_id = edit_id
        return edit_id

    def undo(self, project: Project) -> int:
        if self._changes is None:
            raise RuntimeError("undo of a command that was never applied")
        with project.transaction():
            self._expect(project, self._changes, "after")
            for ch in reversed(self._changes):
                project.write_row(ch.table, ch.key, ch.before)
            edit_id = project.log_edit("undo", type(self).__name__, self.text,
                                       self._videos(self._changes),
                                       [c.to_json() for c in self._changes])
        self.last_edit_id = edit_id
        return edit_id

    def _expect(self, project: Project, changes: list[Change], side: str) -> None:
        for ch in changes:
            current = project.read_row(ch.table, ch.key)
            if current != getattr(ch, side):
                raise UserError(f"{project.folder}: cannot {'undo' if side == 'after' else 'redo'} "
                                f"'{self.text}': the segment was changed elsewhere since",
                                path=project.folder)

    @staticmethod
    def _videos(changes: list[Change]) -> list[int]:
        return sorted({int(r["video_id"]) for c in changes for r in (c.before, c.after) if r})

    # --- for subclasses -----------------------------------------------------------------------
    @abc.abstractmethod
    def _plan(self, project: Project) -> list[Change]:
        """Make the edit's row changes in the open transaction and return them (for undo)."""

    def _merge_key(self):
        return None

    def _absorb(self, other: "EditCommand") -> None:
        pass


# --- helpers shared by the commands ------------------------------------------------------------

def _segment_row(project: Project, sid: int) -> dict:
    row = project.read_row("segments", sid)
    if row is None:
        raise UserError(f"{project.folder}: segment {sid} does not exist (deleted?)",
                        path=project.folder)
    return row


def _check_extent(project: Project, video_id: int, start: int, end: int, what: str = "segment") -> None:
    start, end = int(start), int(end)
    if start < 0:
        raise UserError(f"{project.folder}: a {what} cannot start before the video (frame {start})",
                        path=project.folder)
    if end <= start:
        raise UserError(f"{project.folder}: a {what} must end after it starts "
                        f"([{start}, {end}) has no length)", path=project.folder)
    limit = project.frame_limit(video_id)
    if limit is not None and end > limit:
        raise UserError(f"{project.folder}: a {what} cannot end after the video "
                        f"(frame {end} > {limit} frames)", path=project.folder)


def _edited_provenance(provenance: str) -> str:
    return "added" if provenance == "added" else "edited"


def _update(project: Project, sid: int, **fields) -> Change:
    """A change to one segment row, written now; frames/class changes mark it edited."""
    before = _segment_row(project, sid)
    after = dict(before)
    after.update(fields)
    if after["start_frame"] != before["start_frame"]:
        after["import_start_s"] = None
    if after["end_frame"] != before["end_frame"]:
        after["import_end_s"] = None
    geometry = any(after[k] != before[k] for k in ("start_frame", "end_frame", "class_id"))
    if geometry and "provenance" not in fields:
        after["provenance"] = _edited_provenance(before["provenance"])
    if after != before:
        after["author"] = project.author
        after["modified"] = now_iso()
    _check_extent(project, after["video_id"], after["start_frame"], after["end_frame"])
    project.write_row("segments", sid, after)
    return Change("segments", sid, before, after)


def _insert(project: Project, row: dict) -> Change:
    _check_extent(project, row["video_id"], row["start_frame"], row["end_frame"])
    if row["provenance"] not in PROVENANCES:
        raise ValueError(f"unknown provenance {row['provenance']!r}")
    stamp = now_iso()
    full = {"source_prediction_id": None, "source_segment_id": None, "import_start_s": None,
            "import_end_s": None, "author": project.author, "created": stamp, "modified": stamp}
    full.update(row)
    full["start_frame"], full["end_frame"] = int(full["start_frame"]), int(full["end_frame"])
    key = project.write_row("segments", None, full)
    full["id"] = key
    return Change("segments", key, None, project.read_row("segments", key))


# --- the commands --------------------------------------------------------------------------------

class AddSegment(EditCommand):
    """Add a segment drawn by hand (provenance 'added')."""

    def __init__(self, video_id: int, label: str, start_frame: int, end_frame: int):
        super().__init__()
        self.video_id, self.label = int(video_id), label
        self.start_frame, self.end_frame = int(start_frame), int(end_frame)
        self.text = f"Add {label} [{start_frame}, {end_frame})"

    def _plan(self, project):
        project.video(self.video_id)
        return [_insert(project, {"video_id": self.video_id, "class_id": project.class_id(self.label),
                                  "start_frame": self.start_frame, "end_frame": self.end_frame,
                                  "provenance": "added"})]


class DeleteSegments(EditCommand):
    """Delete one or more human segments."""

    def __init__(self, segment_ids: Iterable[int]):
        super().__init__()
        self.segment_ids = sorted({int(s) for s in segment_ids})
        if not self.segment_ids:
            raise UserError("nothing selected to delete")
        self.text = (f"Delete segment {self.segment_ids[0]}" if len(self.segment_ids) == 1
                     else f"Delete {len(self.segment_ids)} segments")

    def _plan(self, project):
        changes = []
        for sid in self.segment_ids:
            before = _segment_row(project, sid)
            project.write_row("segments", sid, None)
            changes.append(Change("segments", sid, before, None))
        return changes


class MoveBoundary(EditCommand):
    """Move the start or end boundary of a segment to a frame; consecutive drags merge."""

    merge_id = MERGE_MOVE_BOUNDARY

    def __init__(self, segment_id: int, side: str, frame: int):
        super().__init__()
        if side not in ("start", "end"):
            raise ValueError(f"side must be 'start' or 'end', got {side!r}")
        self.segment_id, self.side, self.frame = int(segment_id), side, int(frame)
        self.text = f"Move {side} of segment {segment_id} to frame {frame}"

    def _plan(self, project):
        return [_update(project, self.segment_id, **{f"{self.side}_frame": self.frame})]

    def _merge_key(self):
        return (self.segment_id, self.side)

    def _absorb(self, other):
        self.frame = other.frame
        self.text = other.text


class MoveSegment(EditCommand):
    """Shift a whole segment by `delta` frames (length kept); consecutive moves merge."""

    merge_id = MERGE_MOVE_SEGMENT

    def __init__(self, segment_id: int, delta: int):
        super().__init__()
        self.segment_id, self.delta = int(segment_id), int(delta)
        self.text = f"Move segment {segment_id} by {delta:+d} frames"

    def _plan(self, project):
        row = _segment_row(project, self.segment_id)
        return [_update(project, self.segment_id, start_frame=row["start_frame"] + self.delta,
                        end_frame=row["end_frame"] + self.delta)]

    def _merge_key(self):
        return self.segment_id

    def _absorb(self, other):
        self.delta += other.delta
        self.text = f"Move segment {self.segment_id} by {self.delta:+d} frames"


class SplitSegment(EditCommand):
    """Split a segment at a frame: [s, f) stays, [f, e) becomes a new segment of the same class."""

    def __init__(self, segment_id: int, frame: int):
        super().__init__()
        self.segment_id, self.frame = int(segment_id), int(frame)
        self.text = f"Split segment {segment_id} at frame {frame}"

    def _plan(self, project):
        row = _segment_row(project, self.segment_id)
        if not row["start_frame"] < self.frame < row["end_frame"]:
            raise UserError(f"{project.folder}: cannot split segment {self.segment_id} at frame "
                            f"{self.frame}: it spans [{row['start_frame']}, {row['end_frame']})",
                            path=project.folder)
        first = _update(project, self.segment_id, end_frame=self.frame)
        second = _insert(project, {
            "video_id": row["video_id"], "class_id": row["class_id"], "start_frame": self.frame,
            "end_frame": row["end_frame"], "provenance": first.after["provenance"],
            "source_prediction_id": row["source_prediction_id"],
            "source_segment_id": self.segment_id, "import_end_s": row["import_end_s"]})
        return [first, second]


class MergeWithNeighbour(EditCommand):
    """Merge a segment with the next (or previous) segment of the same class in its video."""

    def __init__(self, segment_id: int, direction: str = "next"):
        super().__init__()
        if direction not in ("next", "previous"):
            raise ValueError(f"direction must be 'next' or 'previous', got {direction!r}")
        self.segment_id, self.direction = int(segment_id), direction
        self.text = f"Merge segment {segment_id} with the {direction} one"

    def _plan(self, project):
        row = _segment_row(project, self.segment_id)
        if self.direction == "next":
            sql = ("SELECT id FROM segments WHERE video_id = ? AND class_id = ? AND id != ? AND "
                   "(start_frame > ? OR (start_frame = ? AND id > ?)) ORDER BY start_frame, id LIMIT 1")
        else:
            sql = ("SELECT id FROM segments WHERE video_id = ? AND class_id = ? AND id != ? AND "
                   "(start_frame < ? OR (start_frame = ? AND id < ?)) "
                   "ORDER BY start_frame DESC, id DESC LIMIT 1")
        hit = project.conn.execute(sql, (row["video_id"], row["class_id"], row["id"],
                                         row["start_frame"], row["start_frame"], row["id"])).fetchone()
        if hit is None:
            raise UserError(f"{project.folder}: segment {self.segment_id} has no {self.direction} "
                            "segment of the same class to merge with", path=project.folder)
        other = _segment_row(project, hit[0])
        start = min(row["start_frame"], other["start_frame"])
        end = max(row["end_frame"], other["end_frame"])
        fields = {"start_frame": start, "end_frame": end}
        if row["provenance"] == "added" and other["provenance"] == "added":
            fields["provenance"] = "added"
        else:
            fields["provenance"] = "edited"
        # keep the imported seconds of whichever boundary survives unchanged
        first = _update(project, self.segment_id, **fields)
        if first.after["start_frame"] == other["start_frame"] and other["import_start_s"] is not None \
                and first.after["import_start_s"] is None:
            first.after["import_start_s"] = other["import_start_s"]
        if first.after["end_frame"] == other["end_frame"] and other["import_end_s"] is not None \
                and first.after["import_end_s"] is None:
            first.after["import_end_s"] = other["import_end_s"]
        project.write_row("segments", self.segment_id, first.after)
        project.write_row("segments", other["id"], None)
        return [first, Change("segments", other["id"], other, None)]


class Relabel(EditCommand):
    """Give segments another class."""

    def __init__(self, segment_ids: Iterable[int], label: str):
        super().__init__()
        self.segment_ids = sorted({int(s) for s in segment_ids})
        self.label = label
        self.text = (f"Relabel segment {self.segment_ids[0]} as {label}" if len(self.segment_ids) == 1
                     else f"Relabel {len(self.segment_ids)} segments as {label}")

    def _plan(self, project):
        cid = project.class_id(self.label)
        return [_update(project, sid, class_id=cid) for sid in self.segment_ids]


class ConfirmSegments(EditCommand):
    """A human confirms segments as right: imported ones become 'confirmed'.

    Segments a human already made or changed (added, edited, accepted, confirmed) keep their
    provenance; confirming them changes nothing.
    """

    def __init__(self, segment_ids: Iterable[int]):
        super().__init__()
        self.segment_ids = sorted({int(s) for s in segment_ids})
        self.text = (f"Confirm segment {self.segment_ids[0]}" if len(self.segment_ids) == 1
                     else f"Confirm {len(self.segment_ids)} segments")

    def _plan(self, project):
        changes = []
        for sid in self.segment_ids:
            row = _segment_row(project, sid)
            if row["provenance"] == "imported":
                changes.append(_update(project, sid, provenance="confirmed"))
        return changes


class AcceptPredictions(EditCommand):
    """Accept predicted segments: each becomes a human segment ('accepted-prediction').

    A prediction already accepted (a human segment has it as source) is skipped.
    """

    def __init__(self, prediction_ids: Iterable[int]):
        super().__init__()
        self.prediction_ids = sorted({int(p) for p in prediction_ids})
        self.text = (f"Accept prediction {self.prediction_ids[0]}" if len(self.prediction_ids) == 1
                     else f"Accept {len(self.prediction_ids)} predictions")

    def _plan(self, project):
        return _accept(project, self.prediction_ids)


def _accept(project: Project, prediction_ids: Iterable[int]) -> list[Change]:
    changes = []
    for pid in prediction_ids:
        pred = project.predicted_segment(pid)
        if project.conn.execute("SELECT 1 FROM segments WHERE source_prediction_id = ?",
                                (pid,)).fetchone():
            continue
        changes.append(_insert(project, {
            "video_id": pred.video_id, "class_id": project.class_id(pred.label),
            "start_frame": pred.start_frame, "end_frame": pred.end_frame,
            "provenance": "accepted-prediction", "source_prediction_id": pid}))
    return changes


class ConfirmRange(EditCommand):
    """Confirm everything lying inside frames [start, end) of a video.

    Imported human segments inside become 'confirmed'; predicted segments of
    `model_version_id` (if given) inside the range with score >= `min_score` are accepted.
    """

    def __init__(self, video_id: int, start_frame: int, end_frame: int,
                 model_version_id: int | None = None, min_score: float = 0.0):
        super().__init__()
        self.video_id, self.start_frame, self.end_frame = int(video_id), int(start_frame), int(end_frame)
        self.model_version_id, self.min_score = model_version_id, float(min_score)
        self.text = f"Confirm all in [{start_frame}, {end_frame})"

    def _plan(self, project):
        _check_extent(project, self.video_id, self.start_frame, self.end_frame, "range")
        ids = [r[0] for r in project.conn.execute(
            "SELECT id FROM segments WHERE video_id = ? AND start_frame >= ? AND end_frame <= ? "
            "AND provenance = 'imported' ORDER BY start_frame, id",
            (self.video_id, self.start_frame, self.end_frame))]
        changes = [_update(project, sid, provenance="confirmed") for sid in ids]
        if self.model_version_id is not None:
            preds = [r[0] for r in project.conn.execute(
                "SELECT id FROM predicted_segments WHERE video_id = ? AND model_version_id = ? AND "
                "start_frame >= ? AND end_frame <= ? AND score >= ? ORDER BY start_frame, id",
                (self.video_id, int(self.model_version_id), self.start_frame, self.end_frame,
                 self.min_score))]
            changes += _accept(project, preds)
        return changes


class SetReviewState(EditCommand):
    """Set a video's review state: 'unreviewed', 'partial' (reviewed up to a frame) or 'done'."""

    def __init__(self, video_id: int, state: str, reviewed_to: int | None = None):
        super().__init__()
        if state not in REVIEW_STATES:
            raise UserError(f"unknown review state {state!r} (one of {', '.join(REVIEW_STATES)})")
        if (state == "partial") != (reviewed_to is not None):
            raise UserError("'partial' review needs the frame reviewed up to, other states none")
        self.video_id, self.state = int(video_id), state
        self.reviewed_to = None if reviewed_to is None else int(reviewed_to)
        self.text = {"unreviewed": "Mark video unreviewed", "done": "Mark video reviewed",
                     "partial": f"Mark reviewed up to frame {reviewed_to}"}[state]

    def _plan(self, project):
        project.video(self.video_id)
        if self.reviewed_to is not None:
            _check_extent(project, self.video_id, 0, self.reviewed_to, "reviewed span")
        before = project.read_row("review", self.video_id)
        if self.state == "unreviewed":
            after = None
        else:
            after = {"video_id": self.video_id, "state": self.state, "reviewed_to": self.reviewed_to,
                     "author": project.author, "modified": now_iso()}
        if before is None and after is None:
            return []
        project.write_row("review", self.video_id, after)
        return [Change("review", self.video_id, before, after)]


# --- in the reviewer's words ---------------------------------------------------------------------

def describe(command: EditCommand, project: Project) -> str:
    """What an applied command did, as the History panel shows it: class names and times in
    hh:mm:ss.fff (the segment table's format), never frame numbers or internal ids.

    `command.text` stays as it is (frames and ids: exact, for the edit log); this is for people.
    Falls back to `command.text` for a command that was never applied."""
    if not command.applied_once:
        return command.text
    seg_rows = [c for c in command.changes if c.table == "segments"]
    names = {project.class_id(n): n for n in project.classes()}

    def span(row) -> str:
        a, b = project.frames_to_seconds(row["video_id"], row["start_frame"], row["end_frame"])
        return f"{names.get(row['class_id'], '?')} {_time(a)}–{_time(b)}"

    def at(video_id, frame) -> str:
        return _time(project.frames_to_seconds(video_id, frame, frame)[0])

    first = seg_rows[0] if seg_rows else None
    many = len(seg_rows) > 1
    if isinstance(command, AddSegment) and first is not None:
        return f"Add {span(first.after)}"
    if isinstance(command, DeleteSegments) and first is not None:
        return f"Delete {len(seg_rows)} segments" if many else f"Delete {span(first.before)}"
    if isinstance(command, MoveBoundary) and first is not None:
        return (f"Move {command.side} of {span(first.before)} to "
                f"{at(first.after['video_id'], first.after[command.side + '_frame'])}")
    if isinstance(command, MoveSegment) and first is not None:
        a0, _ = project.frames_to_seconds(first.before["video_id"], first.before["start_frame"], 0)
        a1, _ = project.frames_to_seconds(first.after["video_id"], first.after["start_frame"], 0)
        return f"Move {span(first.before)} by {a1 - a0:+.3f} s"
    if isinstance(command, SplitSegment) and first is not None:
        return f"Split {span(first.before)} at {at(first.before['video_id'], command.frame)}"
    if isinstance(command, MergeWithNeighbour) and first is not None:
        return f"Merge {span(first.before)} with the {command.direction} {names.get(first.before['class_id'])}"
    if isinstance(command, Relabel) and first is not None:
        return (f"Relabel {len(seg_rows)} segments as {command.label}" if many
                else f"Relabel {span(first.before)} as {command.label}")
    if isinstance(command, ConfirmSegments):
        if not seg_rows:
            return "Confirm (nothing to change)"
        return f"Confirm {len(seg_rows)} segments" if many else f"Confirm {span(first.after)}"
    if isinstance(command, AcceptPredictions):
        if not seg_rows:
            return "Accept (already accepted)"
        return f"Accept {len(seg_rows)} predictions" if many else f"Accept {span(first.after)}"
    if isinstance(command, ConfirmRange):
        return (f"Confirm all in {at(command.video_id, command.start_frame)}–"
                f"{at(command.video_id, command.end_frame)}")
    if isinstance(command, SetReviewState) and command.state == "partial":
        return f"Mark reviewed up to {at(command.video_id, command.reviewed_to)}"
    return command.text


def _time(seconds: float) -> str:
    from ..data.units import format_timecode

    return format_timecode(float(seconds))
