"""Read `.npy` files whose object arrays are pickled (the W-TALC format) without running code.

Why it exists: the community W-TALC files (`labels.npy`, `segments.npy`, `labels_all.npy`, the
`-I3D-JOINTFeatures.npy` bundle) store Python lists and per-video arrays as pickled object
arrays, and `np.load(allow_pickle=True)` hands such a payload to `pickle.load`, which calls
whatever the file names: a crafted bundle could run any command on `sdanet import`, `train`,
`predict`, `finetune` or a drop on the window. Here the header is read with `numpy.lib.format`
and an object payload is unpickled by `_ArrayUnpickler`, whose `find_class` admits only what
real files hold: numpy's array and scalar reconstruction, dtypes, and the plain builtins
(lists, tuples, dicts, str, bytes, numbers, sets, complex). Anything else stops the load
before it is called, with one sentence naming the file; nothing in it runs.

Plain (non-object) arrays are read by `np.load(allow_pickle=False)`. This module never writes.
"""

from __future__ import annotations

import codecs
import pickle
from pathlib import Path

import numpy as np
from numpy.lib import format as npy_format

from .annotation_checks import fail


def _numpy_core(module: str):
    """numpy's core module under its numpy 2 name (files written by numpy 1 say numpy.core)."""
    import importlib

    return importlib.import_module(module.replace("numpy.core", "numpy._core", 1))


def _latin1_encode(text, encoding="latin1", errors="strict"):
    """`_codecs.encode` as Python 3 pickles bytes at protocol 2: latin-1 only, nothing else."""
    if codecs.lookup(encoding).name != "iso8859-1" or not isinstance(text, str):
        raise pickle.UnpicklingError(f"bytes encoded as {encoding!r}")
    return text.encode("latin1", errors)


def _allowed() -> dict[tuple[str, str], object]:
    out: dict[tuple[str, str], object] = {
        ("numpy", "ndarray"): np.ndarray,
        ("numpy", "dtype"): np.dtype,
        ("_codecs", "encode"): _latin1_encode,
    }
    for module in ("numpy.core.multiarray", "numpy._core.multiarray"):
        core = _numpy_core(module)
        out[(module, "_reconstruct")] = core._reconstruct
        out[(module, "scalar")] = core.scalar
    for module in ("numpy.core.numeric", "numpy._core.numeric"):
        out[(module, "_frombuffer")] = _numpy_core(module)._frombuffer
    for name in ("list", "tuple", "dict", "set", "frozenset", "str", "bytes", "bytearray", "int",
                 "float", "complex", "bool"):
        out[("builtins", name)] = getattr(__import__("builtins"), name)
        out[("__builtin__", name)] = out[("builtins", name)]  # Python 2 pickles
    return out


_ALLOWED = _allowed()


class Refused(Exception):
    """The pickle asked for something outside the allowed list (its dotted name)."""


class _ArrayUnpickler(pickle.Unpickler):
    def find_class(self, module: str, name: str):
        found = _ALLOWED.get((module, name))
        if found is None:
            raise Refused(f"{module}.{name}")
        return found

    def persistent_load(self, pid):
        raise Refused("a persistent object reference")


def _header(fh, path: Path):
    version = npy_format.read_magic(fh)
    if version == (1, 0):
        return npy_format.read_array_header_1_0(fh)
    if version == (2, 0):
        return npy_format.read_array_header_2_0(fh)
    raise fail(path, "", f"unsupported .npy format version {version[0]}.{version[1]}")


def load_npy(path: str | Path, *, what: str = "a W-TALC file") -> np.ndarray:
    """The array of a .npy file. An object array is unpickled with the restricted unpickler:
    a payload that names anything but numpy arrays, dtypes, scalars and plain builtins raises
    UserError naming the file and what it asked for; nothing of it is called."""
    path = Path(path)
    try:
        fh = open(path, "rb")
    except FileNotFoundError:
        raise fail(path, "", "file not found") from None
    except OSError as exc:
        raise fail(path, "", f"cannot read the file ({exc.strerror or exc})") from None
    with fh:
        try:
            shape, _, dtype = _header(fh, path)
        except ValueError as exc:
            raise fail(path, "", f"not a readable .npy file ({exc})") from None
        if not dtype.hasobject:
            fh.seek(0)
            try:
                return np.load(fh, allow_pickle=False)
            except (OSError, ValueError, EOFError) as exc:
                raise fail(path, "", f"not a readable .npy file ({exc})") from None
        try:
            arr = _ArrayUnpickler(fh, encoding="latin1").load()
        except Refused as exc:
            raise fail(path, "", f"refused to load: its pickled data asks for {exc}, which "
                                 f"{what} never holds (it may have been made to run code); "
                                 "nothing in it was run") from None
        except Exception as exc:  # any damage in untrusted pickled data is the file's problem
            raise fail(path, "", f"not a readable object array ({type(exc).__name__}: "
                                 f"{str(exc)[:200]})") from None
    if not isinstance(arr, np.ndarray) or arr.shape != tuple(shape):
        got = f"{type(arr).__name__} {getattr(arr, 'shape', '')}".strip()
        raise fail(path, "", f"its data ({got}) does not match its header (shape {tuple(shape)})")
    return arr
