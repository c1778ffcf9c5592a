"""Import torch from a worker thread without freezing the window.

Why it exists: the first `import torch` loads libtorch (hundreds of MB of shared libraries and
their static initialisers). CPython loads an extension module with the GIL held, so while a
scoring or extraction worker imports torch the UI thread cannot run a single event: measured
1.2-1.8 s with a video playing (benchmarks/ui.py, "stall while scoring, first run").

`import_torch()` first maps those libraries with the C library's `dlopen` called through
ctypes, and ctypes releases the GIL around foreign calls; the `import torch` that follows finds
them loaded and only runs Python-level initialisation, which lets the UI thread in every few
milliseconds. Measured on this project's 2-core machine under load ~20 (a thread importing,
the main thread sleeping 2 ms in a loop): longest main-thread gap 655-833 ms when the
libraries load through Python's import, 12-16 ms through this path; the rest of `import torch`
still takes 180-260 ms of GIL-held time in its longest piece (torch's own C++ initialisation).

Best effort: where `dlopen` is unavailable (Windows) or anything about the preload fails, it
falls back to a plain import. It must never be called at GUI start-up (the window starts
without torch) and never imports Qt.
"""

from __future__ import annotations

import ctypes
import importlib.util
import logging
import os
import sys
import threading

log = logging.getLogger(__name__)
_lock = threading.Lock()
_RTLD_NOW = 2


def _preload_paths() -> list[str]:
    """torch's Python extension and the library it links; dlopen pulls in the rest."""
    spec = importlib.util.find_spec("torch")
    if spec is None or not spec.origin:
        return []
    folder = os.path.dirname(spec.origin)
    lib = os.path.join(folder, "lib", "libtorch_python.so")
    ext = [os.path.join(folder, n) for n in sorted(os.listdir(folder))
           if n.startswith("_C.") and n.endswith(".so")]
    return [p for p in [lib, *ext[:1]] if os.path.isfile(p)]


def _preload() -> None:
    if os.name != "posix" or "torch" in sys.modules:
        return
    try:
        libc = ctypes.CDLL(None)
        dlopen = libc.dlopen
        dlopen.restype, dlopen.argtypes = ctypes.c_void_p, [ctypes.c_char_p, ctypes.c_int]
        for path in _preload_paths():
            if not dlopen(os.fsencode(path), _RTLD_NOW | ctypes.RTLD_GLOBAL):
                log.debug("dlopen(%s) failed; torch will load the plain way", path)
                return
    except (OSError, AttributeError, ValueError) as exc:
        log.debug("torch preload skipped (%s)", exc)


def import_torch():
    """`import torch`, with its shared libraries mapped while the GIL is released."""
    with _lock:
        if "torch" not in sys.modules:
            _preload()
        import torch

        return torch
