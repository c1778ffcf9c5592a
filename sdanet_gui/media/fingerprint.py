"""Video identity: a cheap, stable fingerprint so caches and projects notice a changed or moved file.

The fingerprint is the file size plus a BLAKE2b hash of the first and last 1 MiB (and the size
itself), so it costs two small reads however long the video is, survives a rename or a move, and
changes when the file is re-encoded, truncated or appended to. It must never read the whole file
and never depend on the path or modification time.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

from ..errors import UserError

CHUNK_BYTES = 1 << 20
VERSION = "v1"


def fingerprint(path: str | os.PathLike) -> str:
    """`"v1:<size>:<hex>"` for the file at `path`; UserError when it cannot be read."""
    path = Path(path)
    try:
        size = path.stat().st_size
        h = hashlib.blake2b(digest_size=16)
        h.update(str(size).encode())
        with open(path, "rb") as fh:
            h.update(fh.read(CHUNK_BYTES))
            if size > CHUNK_BYTES:
                fh.seek(max(CHUNK_BYTES, size - CHUNK_BYTES))
                h.update(fh.read(CHUNK_BYTES))
    except FileNotFoundError as exc:
        raise UserError(f"{path}: file not found", path=path) from exc
    except IsADirectoryError as exc:
        raise UserError(f"{path}: is a folder, not a video file", path=path) from exc
    except OSError as exc:
        raise UserError(f"{path}: cannot be read ({exc.strerror or exc})", path=path) from exc
    return f"{VERSION}:{size}:{h.hexdigest()}"
