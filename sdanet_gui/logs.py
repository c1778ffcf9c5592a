"""Logging for both commands: a rotating file in the log dir, and stderr when -v is given.

The log file is where tracebacks go; users see one-line messages, and the GUI's error dialog
points here for details.
"""

from __future__ import annotations

import logging
import logging.handlers
import sys

from .paths import app_paths

_FORMAT = "%(asctime)s %(levelname)s %(name)s [%(threadName)s]: %(message)s"


def setup_logging(verbose: bool = False) -> None:
    root = logging.getLogger()
    if getattr(root, "_sdanet_configured", False):
        return
    root.setLevel(logging.DEBUG)
    paths = app_paths()
    try:
        paths.log.mkdir(parents=True, exist_ok=True)
        fh = logging.handlers.RotatingFileHandler(paths.log_file, maxBytes=2_000_000, backupCount=5,
                                                  encoding="utf-8")
        fh.setLevel(logging.DEBUG)
        fh.setFormatter(logging.Formatter(_FORMAT))
        root.addHandler(fh)
    except OSError as exc:  # a read-only home must not stop the program
        print(f"warning: cannot write log file in {paths.log}: {exc.strerror}", file=sys.stderr)
    sh = logging.StreamHandler(sys.stderr)
    sh.setLevel(logging.DEBUG if verbose else logging.WARNING)
    sh.setFormatter(logging.Formatter("%(levelname)s: %(message)s" if not verbose else _FORMAT))
    root.addHandler(sh)
    root._sdanet_configured = True  # type: ignore[attr-defined]
