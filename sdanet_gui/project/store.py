"""The review project: a folder holding the SQLite store of everything a user reviewed.

Layout of a project folder:
  project.sqlite   videos, classes, model versions, predicted and human segments with
                   provenance, review state, settings, edit log (schema in `schema.py`)
  project.lock     the single-writer lock (`lock.py`)
  cache/           the HDF5 feature/score cache (written by media/, through `atomic`)
  checkpoints/     fine-tuned model checkpoints
  exports/         default place for exported annotation files

Never lose work: the database runs in WAL mode with synchronous=FULL and every change is one
transaction (`Project.transaction()`), committed before the call returns; a SIGKILL loses at
most the change in flight. A failed write (disk full, read-only folder) rolls back and becomes a
`UserError`; what was committed before is untouched.

Frame clocks: segments are frames on the video's frame index; seconds come only from
`units.FrameClock` (`Project.clock(video)`): the decoder's per-frame timestamps when stored
(variable frame rate), else a constant clock, which costs the same whatever the video's length
(no table of frame times is built for it). A video known only from an annotation file or
features has no decoder yet; it gets a *provisional* millisecond clock (1000 frames per second)
so imported times keep 1 ms resolution (a round trip shifts nothing by more than 0.5 ms), and
`locate_video()` later re-maps its segments onto the real frames. Imported seconds are also kept
per boundary while unedited, so an export after locating still gives back the imported values.

Threads: a Project belongs to the thread that opened it (the GUI thread for the writable one).
A worker that needs to read while the user edits opens its own `Project.open(dir,
read_only=True)`; WAL lets it read a consistent state (`snapshot()`) without blocking edits.

This module must never import Qt, decode video, or do unit arithmetic outside `units`.
"""

from __future__ import annotations

import contextlib
import getpass
import json
import os
import sqlite3
from collections import OrderedDict
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Iterable, Iterator, Sequence

import numpy as np

from ..data.labels import LabelError, describe, normalise_label
from ..data.units import MAX_SECONDS, FrameClock, constant_frame_to_seconds, constant_seconds_to_boundary
from ..errors import UserError
from . import schema
from .lock import ProjectLock

DB_NAME = "project.sqlite"
SUBFOLDERS = ("cache", "checkpoints", "exports")
PROVISIONAL_FPS = 1000.0


def now_iso() -> str:
    """UTC now, to the microsecond: a class created and a video reviewed one after the other
    must stay in order (fine-tuning asks which came first; schema.py version 2)."""
    return datetime.now(timezone.utc).isoformat(timespec="microseconds")


# --- records: plain snapshots of rows, never live objects --------------------------------------

@dataclass(frozen=True)
class VideoRecord:
    id: int
    name: str
    subset: str
    path: str | None
    fingerprint: str | None
    clock_kind: str               # 'provisional' (no decoder yet) or 'decoded'
    fps: float
    frame_count: int | None       # None: extent unknown (annotation gave no duration)
    duration: float | None
    has_timestamps: bool
    source_fps: float | None
    feature_ref: str | None
    added: str

    @property
    def located(self) -> bool:
        return self.path is not None


@dataclass(frozen=True)
class SegmentRecord:
    """A human segment: [start_frame, end_frame) with provenance."""

    id: int
    video_id: int
    label: str
    start_frame: int
    end_frame: int
    provenance: str
    source_prediction_id: int | None
    source_segment_id: int | None
    import_start_s: float | None
    import_end_s: float | None
    author: str
    created: str
    modified: str


@dataclass(frozen=True)
class PredictedSegment:
    id: int
    model_version_id: int
    video_id: int
    label: str
    start_frame: int
    end_frame: int
    score: float


@dataclass(frozen=True)
class ModelVersion:
    id: int
    name: str
    checkpoint: str | None
    metrics: dict
    parent_id: int | None
    created: str


@dataclass(frozen=True)
class ReviewState:
    """'unreviewed', 'partial' (frames [0, reviewed_to) reviewed) or 'done'."""

    video_id: int
    state: str = "unreviewed"
    reviewed_to: int | None = None
    author: str = ""
    modified: str = ""


@dataclass(frozen=True)
class EditLogEntry:
    id: int
    at: str
    author: str
    action: str
    command: str
    text: str
    videos: list = field(default_factory=list)


_SEGMENT_COLUMNS = ("id", "video_id", "class_id", "start_frame", "end_frame", "provenance",
                    "source_prediction_id", "source_segment_id", "import_start_s", "import_end_s",
                    "author", "created", "modified")
_REVIEW_COLUMNS = ("video_id", "state", "reviewed_to", "author", "modified")
#: Tables edit commands may write, with their key column and columns.
EDITABLE_TABLES = {"segments": ("id", _SEGMENT_COLUMNS), "review": ("video_id", _REVIEW_COLUMNS)}


def _sqlite_error(exc: sqlite3.Error, db_path: Path) -> UserError:
    text = str(exc).lower()
    if "full" in text:
        reason = "the disk is full; the last change was not saved, everything before it is intact"
    elif "readonly" in text or "read-only" in text or "permission" in text:
        reason = ("the project is read-only here; the last change was not saved "
                  "(open it writable to edit)")
    elif "locked" in text or "busy" in text:
        reason = "the database is busy in another program; the last change was not saved"
    elif "i/o" in text or "disk" in text:
        reason = f"could not write ({exc}); the last change was not saved, everything before it is intact"
    elif "not a database" in text or "malformed" in text or "corrupt" in text:
        reason = f"not a readable project database ({exc})"
    else:
        reason = f"database error ({exc}); the last change was not saved"
    return UserError(f"{db_path}: {reason}", path=db_path)


class Project:
    """An open review project. Create with `Project.create(dir)` or `Project.open(dir)`."""

    def __init__(self, folder: Path, conn: sqlite3.Connection, lock: ProjectLock | None,
                 read_only: bool, author: str):
        self.folder = folder
        self.db_path = folder / DB_NAME
        self.read_only = read_only
        self.author = author
        self._conn = conn
        self._lock = lock
        self._in_tx = False
        self._in_snapshot = False
        self._clocks: OrderedDict[int, FrameClock] = OrderedDict()
        self._class_ids: dict[str, int] | None = None

    # --- opening and closing ------------------------------------------------------------------
    @classmethod
    def create(cls, folder: str | os.PathLike, *, author: str | None = None,
               exist_ok: bool = False) -> "Project":
        """Make a new project folder (or an empty folder into a project) and open it for writing."""
        folder = Path(folder)
        if (folder / DB_NAME).exists():
            if exist_ok:
                return cls.open(folder, author=author)
            raise UserError(f"{folder}: a project already exists here", path=folder)
        try:
            folder.mkdir(parents=True, exist_ok=True)
            for sub in SUBFOLDERS:
                (folder / sub).mkdir(exist_ok=True)
        except OSError as exc:
            raise UserError(f"{folder}: cannot create the project folder "
                            f"({exc.strerror or exc}); nothing was changed", path=folder) from exc
        return cls._open(folder, read_only=False, author=author, creating=True)

    @classmethod
    def open(cls, folder: str | os.PathLike, *, read_only: bool = False,
             author: str | None = None) -> "Project":
        """Open an existing project. Another program holding it -> UserError naming pid and host."""
        folder = Path(folder)
        if not (folder / DB_NAME).is_file():
            raise UserError(f"{folder}: not a project folder (no {DB_NAME})", path=folder)
        return cls._open(folder, read_only=read_only, author=author, creating=False)

    @classmethod
    def _open(cls, folder: Path, *, read_only: bool, author: str | None, creating: bool) -> "Project":
        author = author or _default_author()
        db_path = folder / DB_NAME
        lock = None
        if not read_only:
            lock = ProjectLock(folder)
            lock.acquire()
        try:
            if read_only:
                conn = _connect_read_only(db_path)
            else:
                conn = sqlite3.connect(db_path, isolation_level=None, check_same_thread=False)
            try:
                conn.execute("PRAGMA busy_timeout = 5000")
                conn.execute("PRAGMA foreign_keys = ON")
                if not read_only:
                    mode = conn.execute("PRAGMA journal_mode = WAL").fetchone()[0]
                    if str(mode).lower() != "wal":
                        raise UserError(f"{db_path}: cannot switch the database to WAL mode "
                                        f"(got {mode}); is the folder on a network share?",
                                        path=db_path)
                    conn.execute("PRAGMA synchronous = FULL")
                    schema.migrate(conn)
                else:
                    version = schema.schema_version(conn)
                    if version != schema.SCHEMA_VERSION:
                        raise UserError(f"{db_path}: schema version {version} needs an upgrade "
                                        "(open it writable once) or a newer program", path=db_path)
            except BaseException:
                conn.close()
                raise
        except ValueError as exc:
            if lock:
                lock.release()
            raise UserError(f"{db_path}: {exc}", path=db_path) from exc
        except sqlite3.Error as exc:
            if lock:
                lock.release()
            raise UserError(f"{db_path}: cannot open the project database ({exc})",
                            path=db_path) from exc
        except BaseException:
            if lock:
                lock.release()
            raise
        project = cls(folder, conn, lock, read_only, author)
        if creating:
            for sub in SUBFOLDERS:
                (folder / sub).mkdir(exist_ok=True)
        return project

    def close(self) -> None:
        if self._conn is None:
            return
        conn, self._conn = self._conn, None
        try:
            if not self.read_only:
                with contextlib.suppress(sqlite3.Error):
                    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            conn.close()
        finally:
            if self._lock:
                self._lock.release()

    @property
    def closed(self) -> bool:
        return self._conn is None

    def __enter__(self) -> "Project":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    @property
    def cache_dir(self) -> Path:
        return self.folder / "cache"

    @property
    def checkpoints_dir(self) -> Path:
        return self.folder / "checkpoints"

    # --- transactions -------------------------------------------------------------------------
    @property
    def conn(self) -> sqlite3.Connection:
        if self._conn is None:
            raise UserError(f"{self.folder}: the project is closed", path=self.folder)
        return self._conn

    @contextlib.contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """One atomic, durable change: committed on success, rolled back on any exception.

        Nested use joins the outer transaction. SQLite failures become UserError.
        """
        if self.read_only:
            raise UserError(f"{self.folder}: the project is open read-only; nothing was changed",
                            path=self.folder)
        conn = self.conn
        if self._in_tx:
            yield conn
            return
        if self._in_snapshot:
            raise RuntimeError("a change cannot start inside a read snapshot")
        try:
            conn.execute("BEGIN IMMEDIATE")
        except sqlite3.Error as exc:
            raise _sqlite_error(exc, self.db_path) from exc
        self._in_tx = True
        try:
            yield conn
            conn.execute("COMMIT")
        except sqlite3.Error as exc:
            self._rollback()
            raise _sqlite_error(exc, self.db_path) from exc
        except BaseException:
            self._rollback()
            raise
        finally:
            self._in_tx = False

    @contextlib.contextmanager
    def snapshot(self) -> Iterator[sqlite3.Connection]:
        """A consistent read of several queries (works read-only too); joins an open transaction."""
        conn = self.conn
        if self._in_tx or self._in_snapshot:
            yield conn
            return
        try:
            conn.execute("BEGIN")
        except sqlite3.Error as exc:
            raise _sqlite_error(exc, self.db_path) from exc
        self._in_snapshot = True
        try:
            yield conn
        finally:
            self._in_snapshot = False
            with contextlib.suppress(sqlite3.Error):
                conn.execute("COMMIT")

    def forget_clocks(self) -> None:
        """Drop the cached frame clocks (they are rebuilt on the next use; a cold clock costs
        what a first use costs)."""
        self._clocks.clear()

    def _rollback(self) -> None:
        self._class_ids = None
        self._clocks.clear()
        with contextlib.suppress(sqlite3.Error):
            self.conn.execute("ROLLBACK")

    def _query(self, sql: str, params: Sequence = ()) -> list[tuple]:
        try:
            return self.conn.execute(sql, params).fetchall()
        except sqlite3.Error as exc:
            raise _sqlite_error(exc, self.db_path) from exc

    # --- settings -----------------------------------------------------------------------------
    def get_setting(self, key: str, default=None):
        rows = self._query("SELECT value FROM settings WHERE key = ?", (key,))
        return json.loads(rows[0][0]) if rows else default

    def set_setting(self, key: str, value) -> None:
        text = json.dumps(value)
        with self.transaction() as c:
            c.execute("INSERT INTO settings(key, value) VALUES (?, ?) "
                      "ON CONFLICT(key) DO UPDATE SET value = excluded.value", (key, text))

    def settings(self) -> dict:
        return {k: json.loads(v) for k, v in self._query("SELECT key, value FROM settings")}

    # --- classes ------------------------------------------------------------------------------
    def classes(self) -> list[str]:
        return [r[0] for r in self._query("SELECT name FROM classes ORDER BY position, id")]

    def add_classes(self, names: Iterable[str]) -> list[str]:
        """Add the names not yet known (keeping order); return the full class list.

        A new name is stored as `data.labels.normalise_label` gives it (surrounding spaces
        stripped, NFC) or refused with the reason (control characters, '/', too long, the
        reserved 'Ambiguous'): so every export of the project reads back to the same classes."""
        with self.transaction() as c:
            known = set(self.classes())
            pos = c.execute("SELECT COALESCE(MAX(position), -1) FROM classes").fetchone()[0]
            for raw in names:
                if raw in known:
                    continue
                try:
                    name = normalise_label(raw)
                except LabelError as exc:
                    raise UserError(f"{self.folder}: class name {describe(raw)} {exc}",
                                    path=self.folder) from None
                if name not in known:
                    pos += 1
                    c.execute("INSERT INTO classes(name, position, created) VALUES (?, ?, ?)",
                              (name, pos, now_iso()))
                    known.add(name)
            self._class_ids = None
        return self.classes()

    def class_created(self) -> dict[str, str | None]:
        """{class: UTC ISO time it was added}; None for a class there from the start (a project
        older than the record)."""
        return dict(self._query("SELECT name, created FROM classes ORDER BY position, id"))

    def remove_unused_class(self, name: str) -> bool:
        """Delete class `name` when no human or predicted segment uses it (the default lane of a
        new project, once a model brings its own classes); True when it was deleted."""
        with self.transaction() as c:
            row = c.execute("SELECT id FROM classes WHERE name = ?", (name,)).fetchone()
            if row is None or c.execute(
                    "SELECT 1 FROM segments WHERE class_id = ? UNION ALL "
                    "SELECT 1 FROM predicted_segments WHERE class_id = ? LIMIT 1", (row[0], row[0])).fetchone():
                return False
            c.execute("DELETE FROM classes WHERE id = ?", (row[0],))
            self._class_ids = None
        return True

    def class_id(self, name: str) -> int:
        if self._class_ids is None:
            self._class_ids = {n: i for i, n in self._query("SELECT id, name FROM classes")}
        try:
            return self._class_ids[name]
        except KeyError:
            with contextlib.suppress(LabelError, KeyError):
                return self._class_ids[normalise_label(name)]   # as add_classes stored it
            raise UserError(f"{self.folder}: unknown class {name!r} (known: "
                            f"{', '.join(self.classes()) or 'none'})", path=self.folder) from None

    # --- videos -------------------------------------------------------------------------------
    _VIDEO_SQL = ("SELECT id, name, subset, path, fingerprint, clock, fps, frame_count, duration, "
                  "timestamps IS NOT NULL, source_fps, feature_ref, added FROM videos")

    @staticmethod
    def _video(row) -> VideoRecord:
        return VideoRecord(row[0], row[1], row[2], row[3], row[4], row[5], row[6], row[7], row[8],
                           bool(row[9]), row[10], row[11], row[12])

    def videos(self) -> list[VideoRecord]:
        return [self._video(r) for r in self._query(self._VIDEO_SQL + " ORDER BY name")]

    def video(self, video: int | str) -> VideoRecord:
        """A video by id or by name; UserError if unknown."""
        col = "id" if isinstance(video, (int, np.integer)) else "name"
        rows = self._query(self._VIDEO_SQL + f" WHERE {col} = ?", (video if col == "name" else int(video),))
        if not rows:
            raise UserError(f"{self.folder}: no video {video!r} in this project", path=self.folder)
        return self._video(rows[0])

    def find_video(self, name: str) -> VideoRecord | None:
        rows = self._query(self._VIDEO_SQL + " WHERE name = ?", (name,))
        return self._video(rows[0]) if rows else None

    def add_video(self, name: str, *, subset: str = "", duration: float | None = None,
                  path: str | os.PathLike | None = None, fingerprint: str | None = None,
                  fps: float | None = None, frame_count: int | None = None,
                  timestamps: np.ndarray | None = None, source_fps: float | None = None,
                  feature_ref: str | None = None) -> VideoRecord:
        """Register a video. Without `fps` it gets the provisional millisecond clock.

        `fps`/`frame_count`/`timestamps` come from a decoder; `duration` alone (from an
        annotation file) only bounds the provisional clock.
        """
        name = str(name)
        if not name:
            raise UserError(f"{self.folder}: a video needs a name", path=self.folder)
        clock, fps_, count, dur, blob = self._clock_columns(fps, frame_count, timestamps, duration)
        with self.transaction() as c:
            if c.execute("SELECT 1 FROM videos WHERE name = ?", (name,)).fetchone():
                raise UserError(f"{self.folder}: video {name!r} is already in the project",
                                path=self.folder)
            cur = c.execute(
                "INSERT INTO videos(name, subset, path, fingerprint, clock, fps, frame_count, "
                "duration, timestamps, source_fps, feature_ref, added) "
                "VALUES (?,?,?,?,?,?,?,?,?,?,?,?)",
                (name, subset or "", self._store_path(path), fingerprint, clock, fps_, count, dur,
                 blob, source_fps, feature_ref, now_iso()))
            vid = cur.lastrowid
        return self.video(vid)

    def _clock_columns(self, fps, frame_count, timestamps, duration):
        if timestamps is not None:
            ts = np.ascontiguousarray(timestamps, dtype="<f8")
            if ts.ndim != 1 or len(ts) == 0 or np.any(np.diff(ts) <= 0):
                raise UserError(f"{self.folder}: frame timestamps must be increasing", path=self.folder)
            if duration is None:
                raise UserError(f"{self.folder}: a video with timestamps needs its duration",
                                path=self.folder)
            count = len(ts)
            fps_ = float(fps) if fps else count / float(duration)
            return "decoded", fps_, count, float(duration), ts.tobytes()
        if fps:
            if not frame_count or frame_count <= 0:
                raise UserError(f"{self.folder}: a decoded video needs its frame count", path=self.folder)
            dur = float(duration) if duration else None
            return "decoded", float(fps), int(frame_count), dur, None
        if duration is not None and not (duration > 0):
            raise UserError(f"{self.folder}: a video duration must be positive, got {duration}",
                            path=self.folder)
        count = frames_to_cover(float(duration), PROVISIONAL_FPS) if duration else None
        return "provisional", PROVISIONAL_FPS, count, float(duration) if duration else None, None

    def _store_path(self, path) -> str | None:
        if path is None:
            return None
        p = Path(path).absolute()
        try:
            return p.relative_to(self.folder.absolute()).as_posix()
        except ValueError:
            return str(p)

    def video_path(self, video: int | str) -> Path | None:
        """Absolute path of a located video (relative paths resolve against the project folder)."""
        rec = self.video(video)
        if rec.path is None:
            return None
        p = Path(rec.path)
        return p if p.is_absolute() else self.folder / p

    def feature_file(self, video: int | str | VideoRecord) -> Path | None:
        """The video's feature file (relative references resolve against the project folder), or
        None when it has none. The file itself may be missing: callers check."""
        rec = video if isinstance(video, VideoRecord) else self.video(video)
        if not rec.feature_ref:
            return None
        p = Path(rec.feature_ref)
        return p if p.is_absolute() else self.folder / p

    def feature_files(self) -> dict[str, Path]:
        """{video name: feature file} of the videos whose feature file exists (what can be scored)."""
        out = {}
        for rec in self.videos():
            p = self.feature_file(rec)
            if p is not None and p.is_file():
                out[rec.name] = p
        return out

    def set_video_fields(self, video: int | str, *, subset: str | None = None,
                         feature_ref: str | None = None, fingerprint: str | None = None) -> None:
        rec = self.video(video)
        with self.transaction() as c:
            if subset is not None:
                c.execute("UPDATE videos SET subset = ? WHERE id = ?", (subset, rec.id))
            if feature_ref is not None:
                c.execute("UPDATE videos SET feature_ref = ? WHERE id = ?", (feature_ref, rec.id))
            if fingerprint is not None:
                c.execute("UPDATE videos SET fingerprint = ? WHERE id = ?", (fingerprint, rec.id))

    def bound_duration(self, video: int | str, duration: float) -> bool:
        """Give a video known only from a file without times to its end (provisional clock, no
        duration) the extent `duration` s, e.g. that of its features; never shortens what its
        segments need. True when the extent was set."""
        rec = self.video(video)
        if rec.clock_kind != "provisional" or rec.frame_count is not None or not duration > 0:
            return False
        count = max(frames_to_cover(float(duration), PROVISIONAL_FPS), self._max_frame(rec.id))
        with self.transaction() as c:
            c.execute("UPDATE videos SET duration = ?, frame_count = ? WHERE id = ?",
                      (float(count / PROVISIONAL_FPS), int(count), rec.id))
        return True

    def locate_video(self, video: int | str, path: str | os.PathLike, *, fps: float,
                     frame_count: int, duration: float | None = None,
                     timestamps: np.ndarray | None = None, fingerprint: str | None = None) -> VideoRecord:
        """Attach the video file and its decoder clock; re-map every frame index onto it.

        Segments, predictions and review positions are carried through seconds from the old
        clock to the new one (nearest frame boundary), in one transaction. Imported seconds
        stay, so exports still give back what was imported.
        """
        rec = self.video(video)
        old = self.clock(rec.id)
        clock_kind, fps_, count, dur, blob = self._clock_columns(fps, frame_count, timestamps,
                                                                 duration)
        if dur is None:
            dur = FrameClock.constant(fps_, count).duration
        with self.transaction() as c:
            c.execute("UPDATE videos SET path = ?, fingerprint = ?, clock = ?, fps = ?, "
                      "frame_count = ?, duration = ?, timestamps = ? WHERE id = ?",
                      (self._store_path(path), fingerprint, clock_kind, fps_, count, dur, blob,
                       rec.id))
            self._clocks.pop(rec.id, None)
            new = self.clock(rec.id)

            def remap(frames):
                return np.asarray(new.seconds_to_boundary(old.frame_to_seconds(np.asarray(frames))))

            for table in ("segments", "predicted_segments", "ambiguous"):
                rows = c.execute(f"SELECT id, start_frame, end_frame FROM {table} WHERE video_id = ?",
                                 (rec.id,)).fetchall()
                if not rows:
                    continue
                ids = [r[0] for r in rows]
                starts = remap([r[1] for r in rows])
                ends = remap([r[2] for r in rows])
                starts = np.minimum(starts, count - 1)  # nothing may end up outside the video
                ends = np.minimum(np.maximum(ends, starts + 1), count)
                c.executemany(f"UPDATE {table} SET start_frame = ?, end_frame = ? WHERE id = ?",
                              [(int(s), int(e), i) for i, s, e in zip(ids, starts, ends)])
            row = c.execute("SELECT reviewed_to FROM review WHERE video_id = ? AND reviewed_to "
                            "IS NOT NULL", (rec.id,)).fetchone()
            if row:
                c.execute("UPDATE review SET reviewed_to = ? WHERE video_id = ?",
                          (max(1, int(remap([row[0]])[0])), rec.id))
            self._log(c, "locate", "LocateVideo", f"Locate {rec.name}", [rec.id], [])
        return self.video(rec.id)

    def clock(self, video: int | str, *, covering: int = 0) -> FrameClock:
        """The frame clock of a video: decoder timestamps, a constant decoder rate, or provisional.

        For a provisional video of unknown extent the clock covers every frame the project
        refers to, and at least `covering` frames.
        """
        vid = self._video_id(video)
        cached = self._clocks.get(vid)
        if cached is not None and cached.frame_count >= covering:
            self._clocks.move_to_end(vid)
            return cached
        rows = self._query("SELECT clock, fps, frame_count, duration, timestamps FROM videos "
                           "WHERE id = ?", (vid,))
        kind, fps, count, duration, blob = rows[0]
        if blob is not None:
            clock = FrameClock(np.frombuffer(blob, dtype="<f8").copy(), float(duration))
        elif count is None:  # extent unknown: cover every frame the project refers to
            clock = FrameClock.constant(fps, max(1, self._max_frame(vid), int(covering)))
        else:
            clock = FrameClock.constant(fps, int(count),
                                        float(duration) if duration and kind == "decoded" else None)
        self._clocks[vid] = clock
        while len(self._clocks) > 8:
            self._clocks.popitem(last=False)
        return clock

    def _video_id(self, video: int | str) -> int:
        if isinstance(video, (int, np.integer)):
            vid = int(video)
            if not self._query("SELECT 1 FROM videos WHERE id = ?", (vid,)):
                raise UserError(f"{self.folder}: no video {video!r} in this project", path=self.folder)
            return vid
        return self.video(video).id

    def _max_frame(self, vid: int) -> int:
        row = self._query(
            "SELECT MAX(m) FROM (SELECT MAX(end_frame) AS m FROM segments WHERE video_id = ?1 "
            "UNION ALL SELECT MAX(end_frame) FROM predicted_segments WHERE video_id = ?1 "
            "UNION ALL SELECT MAX(end_frame) FROM ambiguous WHERE video_id = ?1 "
            "UNION ALL SELECT MAX(reviewed_to) FROM review WHERE video_id = ?1)", (vid,))
        return int(row[0][0] or 0)

    def frame_limit(self, video: int | str) -> int | None:
        """The exclusive upper bound for frames of a video, or None when its extent is unknown."""
        vid = self._video_id(video)
        return self._query("SELECT frame_count FROM videos WHERE id = ?", (vid,))[0][0]

    def seconds_to_frames(self, video: int | str, start_s, end_s):
        """[start_s, end_s) seconds -> [start_frame, end_frame) on the video's clock (nearest
        boundaries). Scalars give ints; arrays give int64 arrays in one pass (a scored video's
        hundreds of predictions cost one clock look-up, not one per segment)."""
        vid = self._video_id(video)
        self._check_seconds(vid, np.atleast_1d(np.asarray(start_s, dtype=np.float64)),
                            np.atleast_1d(np.asarray(end_s, dtype=np.float64)))
        covering = 0
        if self.frame_limit(vid) is None:
            fps = self._query("SELECT fps FROM videos WHERE id = ?", (vid,))[0][0]
            last = float(np.max(end_s)) if np.size(end_s) else 0.0
            covering = frames_to_cover(max(last, 0.0), fps) + 1
        clock = self.clock(vid, covering=covering)
        start, end = clock.seconds_to_boundary(start_s), clock.seconds_to_boundary(end_s)
        if np.ndim(start) == 0 and np.ndim(end) == 0:
            return int(start), int(end)
        return np.asarray(start, dtype=np.int64), np.asarray(end, dtype=np.int64)

    def frames_to_seconds(self, video: int | str, start_frame, end_frame):
        """Frames -> seconds on the video's clock (scalars or arrays)."""
        vid = self._video_id(video)
        clock = self.clock(vid, covering=int(np.max(end_frame)) if np.size(end_frame) else 0)
        return clock.frame_to_seconds(start_frame), clock.frame_to_seconds(end_frame)

    def segment_seconds(self, seg: SegmentRecord) -> tuple[float, float]:
        """Seconds of a human segment: imported seconds while unedited, else from the clock."""
        if seg.import_start_s is not None and seg.import_end_s is not None:
            return seg.import_start_s, seg.import_end_s
        start, end = self.frames_to_seconds(seg.video_id, seg.start_frame, seg.end_frame)
        if seg.import_start_s is not None:
            start = seg.import_start_s
        if seg.import_end_s is not None:
            end = seg.import_end_s
        return float(start), float(end)

    # --- model versions and predictions -------------------------------------------------------
    def add_model_version(self, name: str, *, checkpoint: str | os.PathLike | None = None,
                          metrics: dict | None = None, parent_id: int | None = None) -> ModelVersion:
        with self.transaction() as c:
            cur = c.execute("INSERT INTO model_versions(name, checkpoint, metrics, parent_id, created) "
                            "VALUES (?,?,?,?,?)",
                            (name, self._store_path(checkpoint), json.dumps(metrics or {}),
                             parent_id, now_iso()))
            mid = cur.lastrowid
        return self.model_version(mid)

    def model_version(self, mid: int) -> ModelVersion:
        rows = self._query("SELECT id, name, checkpoint, metrics, parent_id, created FROM "
                           "model_versions WHERE id = ?", (int(mid),))
        if not rows:
            raise UserError(f"{self.folder}: no model version {mid}", path=self.folder)
        r = rows[0]
        return ModelVersion(r[0], r[1], r[2], json.loads(r[3]), r[4], r[5])

    def model_versions(self) -> list[ModelVersion]:
        return [self.model_version(r[0]) for r in self._query("SELECT id FROM model_versions ORDER BY id")]

    ACTIVE_MODEL_KEY = "active_model_version"

    def active_model_version(self) -> ModelVersion | None:
        """The model version in use: the setting "active_model_version", else the newest; None
        when the project has none (a setting naming a deleted version falls back too)."""
        mid = self.get_setting(self.ACTIVE_MODEL_KEY)
        if mid is not None and self._query("SELECT 1 FROM model_versions WHERE id = ?", (int(mid),)):
            return self.model_version(int(mid))
        rows = self._query("SELECT MAX(id) FROM model_versions")
        return self.model_version(rows[0][0]) if rows and rows[0][0] is not None else None

    def set_active_model_version(self, mid: int | None) -> None:
        """Make version `mid` the active one (None: back to "the newest")."""
        if mid is None:
            with self.transaction() as c:
                c.execute("DELETE FROM settings WHERE key = ?", (self.ACTIVE_MODEL_KEY,))
            return
        self.model_version(int(mid))  # UserError when unknown
        self.set_setting(self.ACTIVE_MODEL_KEY, int(mid))

    def model_checkpoint(self, mv: ModelVersion) -> Path | None:
        """Absolute path of a model version's checkpoint (stored relative when inside the folder)."""
        if not mv.checkpoint:
            return None
        p = Path(mv.checkpoint)
        return p if p.is_absolute() else self.folder / p

    def add_predictions(self, model_version_id: int, video: int | str,
                        rows: Iterable[tuple[str, int, int, float]], *, replace: bool = False) -> int:
        """Store predicted segments (label, start_frame, end_frame, score); return how many.

        `replace`: in the same transaction, drop this version's earlier predictions of the video
        (post-processing re-run), except those a human segment was accepted from: undoing that
        accept needs its source row.
        """
        vid = self.video(video).id
        limit = self.frame_limit(vid)
        data, class_ids = [], {}
        for label, s, e, score in rows:
            s, e = int(s), int(e)
            if e <= s or s < 0 or (limit is not None and e > limit):
                raise UserError(f"{self.folder}: predicted segment [{s}, {e}) does not fit video "
                                f"{self.video(vid).name!r}", path=self.folder)
            if label not in class_ids:
                class_ids[label] = self.class_id(label)
            data.append((int(model_version_id), vid, class_ids[label], s, e, float(score)))
        with self.transaction() as c:
            if replace:
                c.execute("DELETE FROM predicted_segments WHERE video_id = ? AND model_version_id = ? "
                          "AND id NOT IN (SELECT source_prediction_id FROM segments "
                          "WHERE source_prediction_id IS NOT NULL)", (vid, int(model_version_id)))
            c.executemany("INSERT INTO predicted_segments(model_version_id, video_id, class_id, "
                          "start_frame, end_frame, score) VALUES (?,?,?,?,?,?)", data)
            self._clocks.pop(vid, None)
        return len(data)

    _PRED_SQL = ("SELECT p.id, p.model_version_id, p.video_id, c.name, p.start_frame, p.end_frame, "
                 "p.score FROM predicted_segments p JOIN classes c ON c.id = p.class_id")

    def predicted_segments(self, video: int | str, model_version_id: int | None = None) -> list[PredictedSegment]:
        vid = self.video(video).id
        sql, params = self._PRED_SQL + " WHERE p.video_id = ?", [vid]
        if model_version_id is not None:
            sql += " AND p.model_version_id = ?"
            params.append(int(model_version_id))
        return [PredictedSegment(*r) for r in self._query(sql + " ORDER BY p.start_frame, p.id", params)]

    def predicted_segment(self, pid: int) -> PredictedSegment:
        rows = self._query(self._PRED_SQL + " WHERE p.id = ?", (int(pid),))
        if not rows:
            raise UserError(f"{self.folder}: no predicted segment {pid}", path=self.folder)
        return PredictedSegment(*rows[0])

    # --- imported material (bulk, inside the importer's one transaction) ----------------------
    def frames_for_import(self, video: int | str, start_s, end_s):
        """Seconds from a file -> frames valid on the video, at least one frame long.

        Scalars give an (int, int) pair; arrays give two int arrays (one clock lookup for all).
        """
        vid = self._video_id(video)
        starts = np.atleast_1d(np.asarray(start_s, dtype=np.float64))
        ends = np.atleast_1d(np.asarray(end_s, dtype=np.float64))
        self._check_seconds(vid, starts, ends)
        limit = self.frame_limit(vid)
        covering = 0
        if limit is None and len(ends):
            fps = self._query("SELECT fps FROM videos WHERE id = ?", (vid,))[0][0]
            covering = frames_to_cover(max(float(ends.max()), float(starts.max()), 0.0), fps) + 1
        clock = self.clock(vid, covering=covering)
        s = np.asarray(clock.seconds_to_boundary(starts), dtype=np.int64).reshape(-1)
        e = np.asarray(clock.seconds_to_boundary(ends), dtype=np.int64).reshape(-1)
        if limit is not None:
            s = np.minimum(s, limit - 1)
        e = np.maximum(e, s + 1)
        if limit is not None:
            e = np.minimum(e, limit)
        if np.ndim(start_s) == 0:
            return int(s[0]), int(e[0])
        return s, e

    def _check_seconds(self, vid: int, *arrays) -> None:
        """Times must be finite and at most MAX_SECONDS (the readers refuse worse with the row
        named; this guards every other caller): frame arithmetic on 1e300 s means nothing."""
        for a in arrays:
            if a.size and not (np.all(np.isfinite(a)) and float(np.max(np.abs(a))) <= MAX_SECONDS):
                bad = a[~(np.isfinite(a) & (np.abs(a) <= MAX_SECONDS))][0]
                raise UserError(f"{self.folder}: a time of {bad:g} s for video "
                                f"{self.video(vid).name!r} cannot be right (at most "
                                f"{MAX_SECONDS / 3600:g} hours); nothing was changed", path=self.folder)

    def add_imported_segments(self, video: int | str, rows: Iterable[tuple[str, float, float]],
                              provenance: str = "imported") -> list[int]:
        """Add human segments from a file: (label, start_s, end_s) seconds; return their ids.

        The file's seconds are kept per boundary (import_start_s / import_end_s) so an export
        gives them back unchanged while the boundary is unedited.
        """
        vid = self._video_id(video)
        stamp = now_iso()
        ids = []
        rows = [(str(label), float(a), float(b)) for label, a, b in rows]
        if not rows:
            return []
        starts, ends = self.frames_for_import(vid, [r[1] for r in rows], [r[2] for r in rows])
        with self.transaction() as c:
            for (label, start_s, end_s), s, e in zip(rows, starts.tolist(), ends.tolist()):
                cur = c.execute(
                    "INSERT INTO segments(video_id, class_id, start_frame, end_frame, provenance, "
                    "import_start_s, import_end_s, author, created, modified) "
                    "VALUES (?,?,?,?,?,?,?,?,?,?)",
                    (vid, self.class_id(label), s, e, provenance, float(start_s), float(end_s),
                     self.author, stamp, stamp))
                ids.append(cur.lastrowid)
            self._clocks.pop(vid, None)
        return ids

    def add_ambiguous(self, video: int | str, spans: Iterable[tuple[float, float]]) -> int:
        """Add spans (seconds) a file marks ambiguous (THUMOS 'Ambiguous'); return how many."""
        vid = self._video_id(video)
        spans = [(float(a), float(b)) for a, b in spans]
        if not spans:
            return 0
        starts, ends = self.frames_for_import(vid, [a for a, _ in spans], [b for _, b in spans])
        n = 0
        with self.transaction() as c:
            for (start_s, end_s), s, e in zip(spans, starts.tolist(), ends.tolist()):
                c.execute("INSERT INTO ambiguous(video_id, start_frame, end_frame, start_s, end_s) "
                          "VALUES (?,?,?,?,?)", (vid, s, e, float(start_s), float(end_s)))
                n += 1
            self._clocks.pop(vid, None)
        return n

    def ambiguous(self, video: int | str) -> list[tuple[int, int, float, float]]:
        """Ambiguous spans of a video: (start_frame, end_frame, start_s, end_s)."""
        vid = self._video_id(video)
        rows = self._query("SELECT start_frame, end_frame, start_s, end_s FROM ambiguous "
                           "WHERE video_id = ? ORDER BY start_frame, id", (vid,))
        out = []
        for s, e, ss, es in rows:
            if ss is None or es is None:
                fs, fe = self.frames_to_seconds(vid, s, e)
                ss, es = (float(fs) if ss is None else ss), (float(fe) if es is None else es)
            out.append((s, e, ss, es))
        return out

    # --- human segments and review ------------------------------------------------------------
    _SEG_SQL = ("SELECT s.id, s.video_id, c.name, s.start_frame, s.end_frame, s.provenance, "
                "s.source_prediction_id, s.source_segment_id, s.import_start_s, s.import_end_s, "
                "s.author, s.created, s.modified FROM segments s JOIN classes c ON c.id = s.class_id")

    def segments(self, video: int | str | None = None) -> list[SegmentRecord]:
        """Human segments of one video (or all), ordered by start frame."""
        if video is None:
            rows = self._query(self._SEG_SQL + " ORDER BY s.video_id, s.start_frame, s.id")
        else:
            vid = self.video(video).id
            rows = self._query(self._SEG_SQL + " WHERE s.video_id = ? ORDER BY s.start_frame, s.id",
                               (vid,))
        return [SegmentRecord(*r) for r in rows]

    def segment(self, sid: int) -> SegmentRecord:
        rows = self._query(self._SEG_SQL + " WHERE s.id = ?", (int(sid),))
        if not rows:
            raise UserError(f"{self.folder}: no segment {sid} (was it deleted?)", path=self.folder)
        return SegmentRecord(*rows[0])

    def review_state(self, video: int | str) -> ReviewState:
        vid = self.video(video).id
        rows = self._query("SELECT video_id, state, reviewed_to, author, modified FROM review "
                           "WHERE video_id = ?", (vid,))
        return ReviewState(*rows[0]) if rows else ReviewState(vid)

    def reviewed_span(self, video: int | str) -> tuple[int, int] | None:
        """Frames [0, N) a human has reviewed; the whole video when done; None when unreviewed."""
        state = self.review_state(video)
        if state.state == "partial":
            return (0, int(state.reviewed_to))
        if state.state == "done":
            vid = state.video_id
            limit = self.frame_limit(vid)
            return (0, int(limit if limit is not None else max(1, self._max_frame(vid))))
        return None

    # --- rows for edit commands (inside a transaction only) -----------------------------------
    def read_row(self, table: str, key: int) -> dict | None:
        key_col, cols = EDITABLE_TABLES[table]
        row = self.conn.execute(f"SELECT {', '.join(cols)} FROM {table} WHERE {key_col} = ?",
                                (int(key),)).fetchone()
        return dict(zip(cols, row)) if row else None

    def write_row(self, table: str, key: int, row: dict | None) -> int:
        """Make row `key` of an editable table equal `row` (None deletes). Returns the key.

        A row without its key (key None) is inserted and gets a new key.
        """
        if not self._in_tx:
            raise RuntimeError("write_row outside a transaction")
        key_col, cols = EDITABLE_TABLES[table]
        if row is None:
            self.conn.execute(f"DELETE FROM {table} WHERE {key_col} = ?", (int(key),))
            return key
        values = [row.get(c) for c in cols]
        if key is None:
            cur = self.conn.execute(
                f"INSERT INTO {table}({', '.join(cols[1:])}) VALUES ({', '.join('?' * (len(cols) - 1))})",
                values[1:])
            return cur.lastrowid
        values[0] = int(key)
        updates = ", ".join(f"{c} = excluded.{c}" for c in cols[1:])
        self.conn.execute(f"INSERT INTO {table}({', '.join(cols)}) VALUES ({', '.join('?' * len(cols))}) "
                          f"ON CONFLICT({key_col}) DO UPDATE SET {updates}", values)
        return key

    def log_edit(self, action: str, command: str, text: str, videos: Sequence[int],
                 changes: list) -> int:
        return self._log(self.conn, action, command, text, videos, changes)

    def _log(self, c, action, command, text, videos, changes) -> int:
        cur = c.execute("INSERT INTO edit_log(at, author, action, command, text, videos, changes) "
                        "VALUES (?,?,?,?,?,?,?)",
                        (now_iso(), self.author, action, command, text,
                         json.dumps(sorted(int(v) for v in set(videos))), json.dumps(changes)))
        return cur.lastrowid

    def edit_log(self, limit: int | None = None) -> list[EditLogEntry]:
        sql = "SELECT id, at, author, action, command, text, videos FROM edit_log ORDER BY id DESC"
        if limit:
            sql += f" LIMIT {int(limit)}"
        return [EditLogEntry(r[0], r[1], r[2], r[3], r[4], r[5], json.loads(r[6]))
                for r in self._query(sql)]

    def dump_human_tables(self) -> dict[str, list[tuple]]:
        """Every row of the tables holding review work, for exact comparisons."""
        out = {}
        for table in schema.HUMAN_TABLES:
            key_col, cols = EDITABLE_TABLES[table]
            out[table] = self._query(f"SELECT {', '.join(cols)} FROM {table} ORDER BY {key_col}")
        return out

    def state_fingerprint(self) -> str:
        """A hash of everything a training manifest depends on (human work, classes, clocks)."""
        import hashlib

        h = hashlib.sha256()
        for sql in ("SELECT id, name, position FROM classes ORDER BY id",
                    "SELECT id, name, subset, clock, fps, frame_count, duration, "
                    "hex(timestamps), feature_ref FROM videos ORDER BY id",
                    "SELECT * FROM segments ORDER BY id",
                    "SELECT * FROM review ORDER BY video_id",
                    "SELECT * FROM ambiguous ORDER BY id"):
            h.update(sql.encode())
            for row in self._query(sql):
                h.update(repr(row).encode())
        return h.hexdigest()


def _connect_read_only(db_path: Path) -> sqlite3.Connection:
    """Open read-only; in a folder we cannot write (no -shm possible) fall back to immutable.

    The immutable view does not see a WAL left by a crashed writer that was never
    checkpointed; a cleanly closed project has none (close() checkpoints and truncates it).
    A project killed while open and then copied to read-only media without its -shm file has
    its latest changes only in that WAL: showing the older database would be silently wrong,
    so that case is refused with a message saying what to do.
    """
    uri = db_path.resolve().as_uri()
    conn = sqlite3.connect(uri + "?mode=ro", uri=True, isolation_level=None,
                           check_same_thread=False)
    try:
        conn.execute("SELECT COUNT(*) FROM sqlite_master").fetchone()
        return conn
    except sqlite3.OperationalError:
        conn.close()
        if os.access(db_path.parent, os.W_OK):
            raise
    wal = db_path.with_name(db_path.name + "-wal")
    if wal.is_file() and wal.stat().st_size > 0:
        raise UserError(f"{db_path}: the project was not closed cleanly and its latest changes are "
                        f"in {wal.name}, which cannot be read in this read-only folder without "
                        f"{db_path.name}-shm; open the project once in a writable place (or copy "
                        f"the folder there) to see them", path=db_path)
    conn = sqlite3.connect(uri + "?mode=ro&immutable=1", uri=True, isolation_level=None,
                           check_same_thread=False)
    conn.execute("SELECT COUNT(*) FROM sqlite_master").fetchone()
    return conn


def _default_author() -> str:
    try:
        return getpass.getuser()
    except Exception:  # no login name (containers): still record something
        return "unknown"


def frames_to_cover(seconds: float, fps: float) -> int:
    """Frames of a constant-rate clock needed so that its extent reaches `seconds` (at least 1)."""
    n = max(1, int(constant_seconds_to_boundary(seconds, fps)))
    return n + 1 if constant_frame_to_seconds(n, fps) < seconds else n
