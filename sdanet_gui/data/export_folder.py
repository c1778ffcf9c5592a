"""Writing a folder export (THUMOS14 class files, ELAN documents, a W-TALC folder) as one set.

Why it exists: a folder export replaces many files at once, in a folder the user may share with
files of their own. Two promises, kept here for every folder format:

1. Nothing this program did not write is overwritten or deleted. The folder keeps a manifest,
   `.sdanet-export.json`: every file an export of this program wrote there, with its SHA-256. A
   later export may replace or remove exactly those files, as long as their content is still
   what was written. Any other file it would overwrite or delete (the user's own
   `my_interview.eaf`, `Jump_val.txt` from elsewhere, or one of ours the user has edited since)
   stops the export with `ExportWouldOverwrite`, which names them, unless `force` is given
   (`sdanet export --force`, a confirmation in the window).
2. The old set or the new set, never a mix. The new files are written and fsynced into a staging
   folder inside the target; a journal naming the swap is written (atomically); the old files
   are moved into an aside folder and the new ones moved in; removing the journal is the commit;
   then the aside folder is deleted. A kill at any point, or a full disk (which can only strike
   while staging, before anything in the folder was touched), leaves the old set, or after the
   commit the new one: `recover()` rolls an unfinished swap back. It runs before every folder
   export and before every read of such a folder (`recover_for_reading`).

Only flat file names are written. This module never decides what goes into the files.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import secrets
import shutil
from pathlib import Path
from typing import Iterable

from ..atomic import _as_user_error, _fsync_dir, write_text
from ..errors import UserError

log = logging.getLogger(__name__)

MANIFEST = ".sdanet-export.json"
JOURNAL = ".sdanet-export-journal.json"
STAGING_PREFIX = ".sdanet-export-new-"
ASIDE_PREFIX = ".sdanet-export-old-"
_LEFTOVERS = (STAGING_PREFIX, ASIDE_PREFIX, f".{JOURNAL}.")   # the last: atomic_open's temp files


class ExportWouldOverwrite(UserError):
    """The export would overwrite or delete files this program did not write (or that were
    changed since); `overwritten` and `deleted` name them. Nothing was changed."""

    def __init__(self, folder: Path, overwritten: list[str], deleted: list[str]):
        self.folder, self.overwritten, self.deleted = Path(folder), list(overwritten), list(deleted)
        parts = []
        if overwritten:
            parts.append(f"overwrite {len(overwritten)} file{'s' if len(overwritten) != 1 else ''} "
                         f"it did not write ({short_list(overwritten)})")
        if deleted:
            parts.append(f"delete {len(deleted)} file{'s' if len(deleted) != 1 else ''} it did not "
                         f"write ({short_list(deleted)})")
        super().__init__(f"{folder}: this export would {' and '.join(parts)}; nothing was changed "
                         f"(use --force to replace them)", path=folder)


def short_list(names: list[str], n: int = 5) -> str:
    """'a, b, c and 4 more': the first names of a list, for a message."""
    shown = ", ".join(names[:n])
    return shown + (f" and {len(names) - n} more" if len(names) > n else "")


def sha256_of(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _file_sha(path: Path) -> str | None:
    """SHA-256 of a regular file's bytes; None for anything else (a folder, a link)."""
    if path.is_symlink() or not path.is_file():
        return None
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def read_manifest(folder: Path) -> dict[str, str]:
    """name -> SHA-256 of the files an export of this program wrote in `folder` ({} if none)."""
    try:
        doc = json.loads((folder / MANIFEST).read_text(encoding="utf-8"))
        files = doc["files"]
        return {str(k): str(v) for k, v in files.items()} if isinstance(files, dict) else {}
    except (OSError, ValueError, KeyError, TypeError, AttributeError, RecursionError):
        return {}


def write_file(path: Path, data: bytes) -> None:
    """Create `path` with `data`, flushed to disk. (Tests replace this to simulate a full disk.)"""
    with open(path, "xb") as fh:
        fh.write(data)
        fh.flush()
        os.fsync(fh.fileno())


def write_file_set(folder: str | os.PathLike, files: dict[str, bytes], stale: Iterable[str] = (),
                   *, force: bool = False) -> Path:
    """Make `folder` hold `files` (flat name -> bytes) in place of an earlier export: names in
    `stale` (files of the format's naming that this export does not write: a class or video no
    longer in the set) are removed. Files of ours that are unchanged are replaced or removed
    freely; any other file in the way raises ExportWouldOverwrite unless `force`. Atomic as a
    set (module docstring). Returns the folder."""
    folder = Path(folder)
    for name in files:
        if not name or name != Path(name).name or name.startswith(".sdanet-export"):
            raise ValueError(f"not a flat export file name: {name!r}")
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise _as_user_error(exc, folder) from exc
    recover(folder)
    ours = read_manifest(folder)
    replaced = [n for n in files if os.path.lexists(folder / n)]
    removed = sorted({n for n in stale if n not in files and os.path.lexists(folder / n)})
    foreign = {n for n in replaced + removed
               if ours.get(n) is None or _file_sha(folder / n) != ours[n]}
    foreign -= {n for n in replaced if n in foreign and _file_sha(folder / n) == sha256_of(files[n])}
    if foreign and not force:
        raise ExportWouldOverwrite(folder, [n for n in replaced if n in foreign],
                                   [n for n in removed if n in foreign])
    manifest = {n: sha for n, sha in ours.items()
                if n not in files and n not in removed and _file_sha(folder / n) == sha}
    manifest.update({n: sha256_of(data) for n, data in files.items()})
    new = dict(files)
    new[MANIFEST] = (json.dumps({"written_by": "sdanet-gui", "files": dict(sorted(manifest.items()))},
                                indent=1) + "\n").encode()
    out = replaced + removed + ([MANIFEST] if os.path.lexists(folder / MANIFEST) else [])
    _swap(folder, new, out)
    return folder


def _swap(folder: Path, new: dict[str, bytes], out: list[str]) -> None:
    token = secrets.token_hex(4)
    staging, aside = folder / f"{STAGING_PREFIX}{token}", folder / f"{ASIDE_PREFIX}{token}"
    try:
        staging.mkdir()
        for name, data in new.items():
            write_file(staging / name, data)
        _fsync_dir(staging)
        write_text(folder / JOURNAL, json.dumps({"staging": staging.name, "aside": aside.name,
                                                 "in": list(new), "out": out}))
    except (OSError, UserError) as exc:
        shutil.rmtree(staging, ignore_errors=True)
        if isinstance(exc, UserError):
            raise UserError(f"{folder}: {str(exc).split(': ', 1)[-1]}", path=folder) from exc
        raise _as_user_error(exc, folder) from exc
    try:
        aside.mkdir()
        for name in out:
            os.rename(folder / name, aside / name)
        _fsync_dir(aside)
        _fsync_dir(folder)
        for name in new:
            os.rename(staging / name, folder / name)
        _fsync_dir(folder)
        os.unlink(folder / JOURNAL)            # the commit
        _fsync_dir(folder)
    except OSError as exc:
        recover(folder)
        raise _as_user_error(exc, folder) from exc
    shutil.rmtree(aside, ignore_errors=True)
    shutil.rmtree(staging, ignore_errors=True)


def recover(folder: str | os.PathLike) -> bool:
    """Finish what an interrupted folder export left: with a journal (the swap had started but
    not committed), move the old files back and drop the new ones; then remove the staging and
    aside folders and temp files. Idempotent; True if anything was rolled back."""
    folder = Path(folder)
    journal = folder / JOURNAL
    rolled_back = False
    if journal.is_file():
        try:
            doc = json.loads(journal.read_text(encoding="utf-8"))
            staging, aside = folder / doc["staging"], folder / doc["aside"]
            moved_in, moved_out = list(doc["in"]), list(doc["out"])
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise UserError(f"{journal}: an interrupted export left a journal that cannot be read "
                            f"({exc}); remove it and check the folder by hand", path=journal) from exc
        for name in moved_in:          # new files already moved in: drop them
            if not (staging / name).exists() and os.path.lexists(folder / name) and \
                    (name not in moved_out or os.path.lexists(aside / name)):
                os.unlink(folder / name)
        for name in moved_out:         # old files moved aside: put them back
            if os.path.lexists(aside / name) and not os.path.lexists(folder / name):
                os.rename(aside / name, folder / name)
        _fsync_dir(folder)
        os.unlink(journal)
        _fsync_dir(folder)
        rolled_back = True
        log.warning("%s: rolled back an interrupted export", folder)
    with contextlib.suppress(OSError):
        for entry in folder.iterdir():
            if entry.name.startswith(_LEFTOVERS):
                if entry.is_dir() and not entry.is_symlink():
                    shutil.rmtree(entry, ignore_errors=True)
                else:
                    entry.unlink(missing_ok=True)
    return rolled_back


def recover_for_reading(folder: str | os.PathLike) -> None:
    """Before reading a folder: an interrupted export is rolled back (the folder then holds the
    old set) and its leftovers removed; where the folder cannot be written, a read that may mix
    two sets is refused."""
    folder = Path(folder)
    interrupted = (folder / JOURNAL).is_file()
    with contextlib.suppress(OSError):
        if not interrupted and not any(e.name.startswith(_LEFTOVERS) for e in folder.iterdir()):
            return
    if not os.access(folder, os.W_OK):
        if interrupted:
            raise UserError(f"{folder}: an export into this folder was interrupted and the folder "
                            "is read-only, so it may hold a mix of old and new files; open it once "
                            "where it can be written", path=folder)
        return
    recover(folder)
