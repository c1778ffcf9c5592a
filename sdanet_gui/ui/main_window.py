"""The main window: menus, the drop target, and the empty state shown before anything is open."""

from __future__ import annotations

import logging
from pathlib import Path

from PySide6.QtCore import Qt
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import QLabel, QMainWindow, QStackedWidget

from .dialogs import show_about

log = logging.getLogger(__name__)

EMPTY_STATE_TEXT = "Drop videos, a folder or a project here"


class MainWindow(QMainWindow):
    def __init__(self):
        super().__init__()
        self.setWindowTitle("SDANet Review")
        self.setObjectName("mainWindow")
        self.resize(1280, 800)
        self.setAcceptDrops(True)
        self._stack = QStackedWidget(self)
        self.empty_state = QLabel(
            f"<h2>{EMPTY_STATE_TEXT}</h2><p>or use File &gt; Open… / Open Project…</p>", self)
        self.empty_state.setObjectName("emptyState")
        self.empty_state.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self._stack.addWidget(self.empty_state)
        self.setCentralWidget(self._stack)
        self._build_menus()
        self.statusBar().showMessage("Ready")

    # --- menus --------------------------------------------------------------------------------
    def _build_menus(self) -> None:
        bar = self.menuBar()
        self.menu_file = bar.addMenu("&File")
        self.menu_edit = bar.addMenu("&Edit")
        self.menu_view = bar.addMenu("&View")
        self.menu_model = bar.addMenu("&Model")
        self.menu_help = bar.addMenu("&Help")

        self.action_quit = QAction("&Quit", self)
        self.action_quit.setShortcut(QKeySequence.StandardKey.Quit)
        self.action_quit.setMenuRole(QAction.MenuRole.QuitRole)
        self.action_quit.triggered.connect(self.close)
        self.menu_file.addAction(self.action_quit)

        self.action_about = QAction("&About SDANet Review", self)
        self.action_about.setMenuRole(QAction.MenuRole.AboutRole)
        self.action_about.triggered.connect(lambda: show_about(self))
        self.menu_help.addAction(self.action_about)

    # --- opening things ---------------------------------------------------------------------
    def open_paths(self, paths) -> None:
        for p in paths:
            log.info("open requested: %s", Path(p))
        self.statusBar().showMessage(f"Opening {len(paths)} item(s)…")

    def open_demo(self) -> None:
        self.statusBar().showMessage("Demo not available yet")

    def dragEnterEvent(self, event):
        if event.mimeData().hasUrls():
            event.acceptProposedAction()

    def dropEvent(self, event):
        paths = [u.toLocalFile() for u in event.mimeData().urls() if u.isLocalFile()]
        if paths:
            event.acceptProposedAction()
            self.open_paths(paths)
