"""The single-writer lock of a project folder: one program edits a project at a time.

The lock is `project.lock` in the project folder, held with an exclusive `flock` for as long as
the project is open for writing. The kernel drops a flock when its process dies, so a crashed
program never leaves a lock that blocks the user: the next open simply takes it over (the file's
stale pid/host text is replaced). The file's text (pid, host, time) only serves the message
"in use by pid N on host H" a second program gets. On a shared network folder a flock may not
reach other machines, so a lock file naming another host whose pid we cannot check is respected
(the user is told which file to delete if that program is gone).

This module must never delete or touch anything in the folder except `project.lock`.
"""

from __future__ import annotations

import errno
import fcntl
import json
import os
import socket
import time
from pathlib import Path

from ..errors import UserError

LOCK_NAME = "project.lock"


def _host() -> str:
    return socket.gethostname()


class ProjectLock:
    """Exclusive write lock of one project folder. Use `acquire()` / `release()` or `with`."""

    def __init__(self, folder: str | os.PathLike):
        self.folder = Path(folder)
        self.path = self.folder / LOCK_NAME
        self._fd: int | None = None

    @property
    def held(self) -> bool:
        return self._fd is not None

    def holder(self) -> dict | None:
        """The pid/host/since recorded in the lock file, or None if none is readable."""
        try:
            data = json.loads(self.path.read_text(encoding="utf-8") or "null")
        except (OSError, ValueError):
            return None
        return data if isinstance(data, dict) and "pid" in data else None

    def acquire(self) -> None:
        if self._fd is not None:
            return
        try:
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        except OSError as exc:
            if exc.errno in (errno.EACCES, errno.EPERM, errno.EROFS):
                raise UserError(f"{self.folder}: the project folder is not writable; "
                                "open the project read-only", path=self.folder) from exc
            raise UserError(f"{self.folder}: cannot create the project lock "
                            f"({exc.strerror or exc})", path=self.folder) from exc
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as exc:
            os.close(fd)
            if exc.errno in (errno.EWOULDBLOCK, errno.EAGAIN, errno.EACCES):
                raise self._in_use_error(self.holder()) from exc
            raise
        holder = self.holder()
        if holder and holder.get("host") not in (None, _host()):
            # A lock written on another machine: our flock proves nothing there.
            os.close(fd)
            raise self._in_use_error(holder, remote=True)
        record = json.dumps({"pid": os.getpid(), "host": _host(),
                             "since": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())})
        try:
            os.ftruncate(fd, 0)
            os.pwrite(fd, record.encode("utf-8"), 0)
            os.fsync(fd)
        except OSError as exc:
            os.close(fd)
            raise UserError(f"{self.path}: cannot write the project lock ({exc.strerror or exc})",
                            path=self.path) from exc
        self._fd = fd

    def release(self) -> None:
        if self._fd is None:
            return
        fd, self._fd = self._fd, None
        try:
            os.ftruncate(fd, 0)  # a clean close leaves no holder text behind
        except OSError:
            pass
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)
            os.close(fd)

    def _in_use_error(self, holder: dict | None, remote: bool = False) -> UserError:
        if holder:
            who = f"pid {holder.get('pid')} on host {holder.get('host')}"
        else:
            who = "another program"
        hint = (f" (if that program is no longer running, delete {self.path})" if remote
                else "; close it there, or open this project read-only")
        return UserError(f"{self.folder}: the project is in use by {who}{hint}", path=self.folder)

    def __enter__(self) -> "ProjectLock":
        self.acquire()
        return self

    def __exit__(self, *exc) -> None:
        self.release()
