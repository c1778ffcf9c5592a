"""Create the QApplication, show the main window, open what was given on the command line."""

from __future__ import annotations

import logging
import sys
import traceback

log = logging.getLogger(__name__)


def _install_excepthook() -> None:
    """An exception escaping a Qt slot must become a dialog and a log entry, not a crash."""

    def hook(exc_type, exc, tb):
        log.error("unhandled exception", exc_info=(exc_type, exc, tb))
        from ..panels.dialogs import show_error

        show_error(None, "Something went wrong", str(exc) or exc_type.__name__,
                   "".join(traceback.format_exception(exc_type, exc, tb)))

    sys.excepthook = hook


def run_app(args) -> int:
    from PySide6.QtWidgets import QApplication

    from ... import __version__
    from .main_window import MainWindow

    app = QApplication.instance() or QApplication(sys.argv[:1])
    app.setApplicationName("SDANet Review")
    app.setOrganizationName("sdanet")
    app.setApplicationVersion(__version__)
    _install_excepthook()
    window = MainWindow()
    window.show()
    if getattr(args, "demo", False):
        window.opening.open_demo()
    if args.paths:
        window.open_paths(args.paths)
    return app.exec()
