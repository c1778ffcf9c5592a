"""The project database's tables and the migrations that bring an older file up to date.

The schema version lives in `PRAGMA user_version`. `MIGRATIONS[i]` takes a database from
version i to version i + 1; `migrate()` runs the missing ones inside one transaction, so a
crash during an upgrade leaves the old, still-readable file. A file written by a newer program
(a version above `SCHEMA_VERSION`) is refused, never downgraded.

Units: every segment column is a frame index on that video's own frame clock, half-open
[start_frame, end_frame). Seconds are never stored for segments, except the seconds an imported
file wrote (`import_start_s` / `import_end_s`), kept only while that boundary is unedited so an
export gives back exactly what was imported. This module only holds DDL; it must never contain
the logic of edits or conversions.
"""

from __future__ import annotations

import sqlite3

# Where a human segment comes from. The one definition: the timeline's drawing codes
# (ui/review/kinds.py) and the training material (manifest.py) are derived from it.
PROVENANCES = ("imported", "accepted-prediction", "edited", "added", "confirmed")
# What a reviewer did, as opposed to what a file said ("imported"): what fine-tuning learns from.
HUMAN_PROVENANCES = tuple(p for p in PROVENANCES if p != "imported")
REVIEW_STATES = ("unreviewed", "partial", "done")
CLOCK_KINDS = ("provisional", "decoded")

_V1 = f"""
CREATE TABLE videos (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    name          TEXT NOT NULL UNIQUE,          -- the name annotation files use (file stem)
    subset        TEXT NOT NULL DEFAULT '',
    path          TEXT,                          -- NULL until located; relative when inside
    fingerprint   TEXT,
    clock         TEXT NOT NULL CHECK (clock IN {CLOCK_KINDS!r}),
    fps           REAL NOT NULL CHECK (fps > 0), -- frame rate of the frame index
    frame_count   INTEGER CHECK (frame_count IS NULL OR frame_count > 0),  -- NULL: unknown
    duration      REAL CHECK (duration IS NULL OR duration > 0),
    timestamps    BLOB,                          -- float64 LE per-frame pts (VFR), else NULL
    source_fps    REAL,                          -- frame rate an annotation file named
    feature_ref   TEXT,                          -- feature file / cache key, NULL if none
    added         TEXT NOT NULL
);

CREATE TABLE classes (
    id        INTEGER PRIMARY KEY AUTOINCREMENT,
    name      TEXT NOT NULL UNIQUE,
    position  INTEGER NOT NULL
);

CREATE TABLE model_versions (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    name        TEXT NOT NULL,
    checkpoint  TEXT,
    metrics     TEXT NOT NULL DEFAULT '{{}}',     -- JSON
    parent_id   INTEGER REFERENCES model_versions(id) ON DELETE SET NULL,
    created     TEXT NOT NULL
);

CREATE TABLE predicted_segments (
    id                INTEGER PRIMARY KEY AUTOINCREMENT,
    model_version_id  INTEGER NOT NULL REFERENCES model_versions(id) ON DELETE CASCADE,
    video_id          INTEGER NOT NULL REFERENCES videos(id) ON DELETE CASCADE,
    class_id          INTEGER NOT NULL REFERENCES classes(id),
    start_frame       INTEGER NOT NULL,
    end_frame         INTEGER NOT NULL,
    score             REAL NOT NULL,
    CHECK (start_frame >= 0 AND end_frame > start_frame)
);
CREATE INDEX predicted_by_video ON predicted_segments(video_id, model_version_id, start_frame);

CREATE TABLE segments (
    id                    INTEGER PRIMARY KEY AUTOINCREMENT,
    video_id              INTEGER NOT NULL REFERENCES videos(id) ON DELETE CASCADE,
    class_id              INTEGER NOT NULL REFERENCES classes(id),
    start_frame           INTEGER NOT NULL,
    end_frame             INTEGER NOT NULL,
    provenance            TEXT NOT NULL CHECK (provenance IN {PROVENANCES!r}),
    source_prediction_id  INTEGER REFERENCES predicted_segments(id) ON DELETE SET NULL,
    source_segment_id     INTEGER,               -- the human segment this one was split from
    import_start_s        REAL,                  -- seconds as imported, while start unedited
    import_end_s          REAL,                  -- seconds as imported, while end unedited
    author                TEXT NOT NULL,
    created               TEXT NOT NULL,
    modified              TEXT NOT NULL,
    CHECK (start_frame >= 0 AND end_frame > start_frame)
);
CREATE INDEX segments_by_video ON segments(video_id, start_frame);

CREATE TABLE review (
    video_id     INTEGER PRIMARY KEY REFERENCES videos(id) ON DELETE CASCADE,
    state        TEXT NOT NULL CHECK (state IN {REVIEW_STATES!r}),
    reviewed_to  INTEGER,                        -- frames [0, reviewed_to) reviewed ('partial')
    author       TEXT NOT NULL,
    modified     TEXT NOT NULL,
    CHECK ((state = 'partial') = (reviewed_to IS NOT NULL)),
    CHECK (reviewed_to IS NULL OR reviewed_to > 0)
);

CREATE TABLE ambiguous (                         -- spans a file marks as neither action nor not
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    video_id     INTEGER NOT NULL REFERENCES videos(id) ON DELETE CASCADE,
    start_frame  INTEGER NOT NULL,
    end_frame    INTEGER NOT NULL,
    start_s      REAL,                           -- seconds as imported
    end_s        REAL,
    CHECK (start_frame >= 0 AND end_frame > start_frame)
);

CREATE TABLE settings (
    key    TEXT PRIMARY KEY,
    value  TEXT NOT NULL                         -- JSON
);

CREATE TABLE edit_log (
    id       INTEGER PRIMARY KEY AUTOINCREMENT,
    at       TEXT NOT NULL,
    author   TEXT NOT NULL,
    action   TEXT NOT NULL CHECK (action IN ('do', 'undo', 'redo', 'import', 'locate')),
    command  TEXT NOT NULL,                      -- command class name
    text     TEXT NOT NULL,                      -- what the history view shows
    videos   TEXT NOT NULL DEFAULT '[]',         -- JSON list of touched video ids
    changes  TEXT NOT NULL DEFAULT '[]'          -- JSON: the rows before/after
);
"""

# Version 2: when each class was created. A video reviewed before a class existed says nothing
# about that class (fine-tuning masks it there, never treats it as absent); classes of an older
# file keep NULL = "there from the start".
_V2 = """
ALTER TABLE classes ADD COLUMN created TEXT;    -- UTC ISO time the class was added, NULL: from the start
"""

# MIGRATIONS[i] upgrades version i -> i + 1 (version 0 = an empty file).
MIGRATIONS: list[str] = [_V1, _V2]
SCHEMA_VERSION = len(MIGRATIONS)

#: Tables whose content is the user's review work (compared whole by the undo tests).
HUMAN_TABLES = ("segments", "review")


def schema_version(conn: sqlite3.Connection) -> int:
    return int(conn.execute("PRAGMA user_version").fetchone()[0])


def migrate(conn: sqlite3.Connection) -> int:
    """Bring `conn` (autocommit mode) up to SCHEMA_VERSION in one transaction; return the old version.

    Raises ValueError when the file was written by a newer program.
    """
    current = schema_version(conn)
    if current > SCHEMA_VERSION:
        raise ValueError(f"written by a newer version of this program (schema {current}, "
                         f"this program knows up to {SCHEMA_VERSION})")
    if current == SCHEMA_VERSION:
        return current
    conn.execute("BEGIN IMMEDIATE")
    try:
        for version in range(current, SCHEMA_VERSION):
            for statement in statements(MIGRATIONS[version]):
                conn.execute(statement)
        conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
        conn.execute("COMMIT")
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    return current


def statements(script: str):
    """Split a DDL script into statements (our DDL has no ';' inside strings or triggers)."""
    buf = []
    for line in script.splitlines():
        code = line.split("--", 1)[0]
        buf.append(code)
        if code.rstrip().endswith(";"):
            stmt = "\n".join(buf).strip()
            if stmt.strip(";").strip():
                yield stmt
            buf = []
    rest = "\n".join(buf).strip()
    if rest:
        yield rest
