"""Atomic file replacement: write a temporary file beside the target, flush, fsync, rename.

Every file this program replaces (exports, caches, checkpoints, settings) goes through here so a
crash or a full disk leaves either the old file or the new one, never half of one.
"""

from __future__ import annotations

import contextlib
import errno
import os
import tempfile
from pathlib import Path
from typing import IO, Iterator

from .errors import UserError


@contextlib.contextmanager
def atomic_path(target: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary path next to `target`; on success it is fsynced and renamed onto it.

    For writers that want a path rather than a file object (h5py, torch.save).
    """
    target = Path(target)
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    except OSError as exc:
        raise _as_user_error(exc, target) from exc
    os.close(fd)
    tmp_path = Path(tmp)
    try:
        yield tmp_path
        with open(tmp_path, "rb+") as fh:
            os.fsync(fh.fileno())
        os.chmod(tmp_path, _final_mode(target))
        os.replace(tmp_path, target)
        _fsync_dir(target.parent)
    except OSError as exc:
        tmp_path.unlink(missing_ok=True)
        raise _as_user_error(exc, target) from exc
    except BaseException:
        tmp_path.unlink(missing_ok=True)
        raise


@contextlib.contextmanager
def atomic_open(target: str | os.PathLike, mode: str = "w", encoding: str | None = "utf-8") -> Iterator[IO]:
    """Open a temporary file for writing that replaces `target` atomically when closed cleanly."""
    if "b" in mode:
        encoding = None
    with atomic_path(target) as tmp:
        try:
            with open(tmp, mode, encoding=encoding, newline="" if "b" not in mode else None) as fh:
                yield fh
                fh.flush()
        except OSError as exc:
            raise _as_user_error(exc, Path(target)) from exc


def write_text(target: str | os.PathLike, text: str) -> None:
    with atomic_open(target, "w") as fh:
        fh.write(text)


def write_bytes(target: str | os.PathLike, data: bytes) -> None:
    with atomic_open(target, "wb") as fh:
        fh.write(data)


def _final_mode(target: Path) -> int:
    """mkstemp makes 0600 files; a replaced file keeps its mode, a new one follows the umask."""
    try:
        return target.stat().st_mode & 0o7777
    except FileNotFoundError:
        umask = os.umask(0)
        os.umask(umask)
        return 0o666 & ~umask


def _fsync_dir(directory: Path) -> None:
    with contextlib.suppress(OSError):
        fd = os.open(directory, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def _as_user_error(exc: OSError, target: Path) -> UserError:
    if exc.errno == errno.ENOSPC:
        reason = "the disk is full; nothing was changed"
    elif exc.errno in (errno.EACCES, errno.EPERM, errno.EROFS):
        reason = "the folder is not writable; nothing was changed"
    else:
        reason = f"could not write ({exc.strerror or exc}); nothing was changed"
    return UserError(f"{target}: {reason}", path=target)
