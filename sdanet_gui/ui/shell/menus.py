"""The main window's menus and toolbar: every QAction in one place, each connected to what it does.

Why its own module: the window only builds and wires; the list of commands a user can find in the
menus (and their standard shortcuts) reads best as one table. `Menus(window)` creates the
actions, puts them into File / Edit / View / Model / Help and the toolbar, and keeps them as
attributes (`menus.undo`, `menus.finetune`, ...) for the window, its tests and its shortcuts
sheet. Slots are the window's public methods; nothing here holds state of its own.
"""

from __future__ import annotations

from PySide6.QtGui import QAction, QKeySequence

from ..panels.dialogs import show_about


class Menus:
    def __init__(self, window):
        self.window = w = window
        bar = w.menuBar()
        self.file = bar.addMenu("&File")
        self.edit = bar.addMenu("&Edit")
        self.view = bar.addMenu("&View")
        self.model = bar.addMenu("&Model")
        self.help = bar.addMenu("&Help")
        std = QKeySequence.StandardKey

        # File
        self.open = self._add(self.file, "&Open…", w.opening.open_dialog, std.Open)
        self.open_project = self._add(self.file, "Open &Project…", w.opening.open_project_dialog, "Ctrl+Shift+O")
        from .recent import RecentMenu

        self.recent = RecentMenu(w, w.open_paths)  # File > Open Recent
        self.file.addMenu(self.recent)
        self.export = self._add(self.file, "&Export…", w.export_dialog, "Ctrl+E")
        self.file.addSeparator()
        self.clean_up = self._add(self.file, "&Clean up empty projects…",
                                  lambda: w.opening.clean_up_projects())
        self.clean_up.setToolTip("Remove the untitled projects that hold no video (made by opening "
                                 "videos that then failed, for example)")
        self.file.addSeparator()
        self.quit = self._add(self.file, "&Quit", w.close, std.Quit)
        self.quit.setMenuRole(QAction.MenuRole.QuitRole)

        # Edit
        self.undo = w.undo_group.createUndoAction(w, "&Undo")
        self.undo.setShortcut(std.Undo)
        self.redo = w.undo_group.createRedoAction(w, "&Redo")
        self.redo.setShortcuts([QKeySequence("Ctrl+Shift+Z"), QKeySequence(std.Redo)])
        self.edit.addAction(self.undo)
        self.edit.addAction(self.redo)
        self.edit.addSeparator()
        self.shortcut_settings = self._add(self.edit, "&Keyboard shortcuts…", w.shortcut_settings_dialog)
        self.shortcut_settings.setObjectName("actionShortcutSettings")

        # View
        for dock in (w.video_dock, w.segment_dock, w.undo_dock):
            self.view.addAction(dock.toggleViewAction())
        self.fit = self._add(self.view, "&Fit timeline to video", w.fit_timeline)
        self.prediction_filter = self._add(self.view, "&Hide low-score predictions…", w.focus_prediction_filter)
        self.prediction_filter.setToolTip("Set the display filter of predicted segments")
        self.show_previous = QAction("Show &previous model's predictions", w)
        self.show_previous.setCheckable(True)
        self.show_previous.setToolTip("Draw the previous model version's predicted segments above the "
                                      "active version's, to compare them")
        self.show_previous.toggled.connect(w.show_previous_toggled)
        self.view.addAction(self.show_previous)
        from ..review.preferences import return_after_edit

        self.return_after_edit = QAction("&Return to the playhead after editing a boundary", w)
        self.return_after_edit.setCheckable(True)
        self.return_after_edit.setChecked(return_after_edit())
        self.return_after_edit.setToolTip("While a boundary is dragged or nudged the player shows its "
                                          "frame; afterwards it goes back to where you were")
        self.return_after_edit.toggled.connect(w.set_return_after_edit)
        self.view.addAction(self.return_after_edit)

        # Model
        self.load_checkpoint = self._add(self.model, "&Load checkpoint…", w.load_checkpoint_dialog)
        self.extract = self._add(self.model, "&Extract features…", lambda: w.extraction.extract_missing())
        self.versions = self._add(self.model, "&Versions…", w.versions_dialog)
        self.versions.setToolTip("Model versions with their metrics; make one active (rollback)")
        self.finetune = self._add(self.model, "&Fine-tune…", w.finetune)
        self.finetune.setObjectName("actionFinetune")
        self.finetune.setToolTip("Train the active model further on your corrections, in the background")
        self.new_model = self._add(self.model, "&New model from this project…",
                                   lambda: w.finetune_flow.open_new_model_dialog())
        self.new_model.setObjectName("actionNewModel")
        self.new_model.setToolTip("Train a model of this project's own from its reviewed videos "
                                  "(for classes no checkpoint knows)")
        self.toolbar = w.addToolBar("Main")
        self.toolbar.setObjectName("mainToolBar")
        self.toolbar.addAction(self.finetune)

        # Help
        self.about = self._add(self.help, "&About SDANet Review", lambda: show_about(w))
        self.about.setMenuRole(QAction.MenuRole.AboutRole)
        self.keys = self._add(self.help, "&Keyboard shortcuts", w.keys_help)

    def _add(self, menu, text: str, slot, shortcut=None) -> QAction:
        action = QAction(text, self.window)
        if shortcut is not None:
            action.setShortcut(QKeySequence(shortcut))
        action.triggered.connect(lambda *_: slot())
        menu.addAction(action)
        return action
