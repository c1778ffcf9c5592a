"""The keymap registry and the shortcut settings dialog: defaults free of conflicts, a key changed
in the dialog is saved per user and works in a NEW review view, conflicts are refused, broken
settings fall back to the defaults, and the Help sheet is generated from the registry."""

from __future__ import annotations

import json

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QDialogButtonBox

from sdanet_gui import user_settings
from sdanet_gui.paths import app_paths
from sdanet_gui.ui.review import keymap
from sdanet_gui.ui.panels.shortcut_settings import ShortcutSettingsDialog

K = Qt.Key
CTRL, SHIFT = Qt.KeyboardModifier.ControlModifier, Qt.KeyboardModifier.ShiftModifier


def test_defaults_have_no_conflicts_and_keep_the_old_keys(qapp):
    d = keymap.defaults()
    assert keymap.conflicts(d) == {}
    km = keymap.KeyMap(d)
    none = Qt.KeyboardModifier.NoModifier
    assert km.action_for(K.Key_Space, none) == "play_pause"
    assert km.action_for(K.Key_Enter, Qt.KeyboardModifier.KeypadModifier) == "confirm"
    assert km.action_for(K.Key_Right, CTRL | SHIFT) == "nudge_forward_10"
    assert km.action_for(K.Key_Plus, SHIFT) == "zoom_in"  # + typed with Shift on many layouts
    assert km.action_for(K.Key_N, SHIFT) == "queue_previous"  # letters keep their Shift
    assert km.action_for(K.Key_Backtab, SHIFT) == "previous_segment"
    assert km.action_for(K.Key_Q, none) is None


def test_check_assignment_refuses_conflicts_reserved_keys_and_chords(qapp):
    d = keymap.defaults()
    assert "Split at the playhead" in keymap.check_assignment(d, "queue_next", ["S"])
    assert "File > Open" in keymap.check_assignment(d, "queue_next", ["Ctrl+O"])
    assert "chord" in keymap.check_assignment(d, "queue_next", ["Ctrl+K, Ctrl+S"])
    assert keymap.check_assignment(d, "queue_next", ["J"]) is None
    assert keymap.check_assignment(d, "queue_next", ["N"]) is None  # its own key


def press_new_key(qtbot, dialog, key, modifiers=Qt.KeyboardModifier.NoModifier):
    dialog.key_edit.setFocus()
    qtbot.keyClick(dialog.key_edit, key, modifiers)


def test_a_key_changed_in_the_dialog_persists_and_works_in_a_new_view(qtbot, review, project, reader):
    from sdanet_gui.ui.review.review_view import ReviewView

    mv = project.add_model_version("m")
    project.add_predictions(mv.id, project.video_id, [("talking", 210, 252, 0.8)])
    review.editor.refresh()
    dialog = ShortcutSettingsDialog()
    qtbot.addWidget(dialog)
    dialog.show()
    dialog.select_action("queue_next")
    press_new_key(qtbot, dialog, K.Key_J)
    qtbot.mouseClick(dialog.assign_button, Qt.MouseButton.LeftButton)
    assert dialog.bindings["queue_next"] == ("J",)
    dialog.buttons.button(QDialogButtonBox.StandardButton.Ok).click()
    saved = json.loads(app_paths().settings_file.read_text())
    assert saved["shortcuts"] == {"queue_next": ["J"]}  # only what differs from the defaults

    review.close_video()
    view = ReviewView()  # a new window reads the user's shortcuts
    qtbot.addWidget(view)
    view.show()
    view.show_video(reader, project, project.video_id)
    view.setFocus()
    qtbot.keyClick(view, K.Key_N)
    assert view.queue.current is None  # N no longer steps the queue
    qtbot.keyClick(view, K.Key_J)
    (pred,) = project.predicted_segments(project.video_id)
    assert view.queue.current == ("segment", pred.id) and view.editor.selected_id == -pred.id
    assert "J" in view.next_button.toolTip()
    assert "<b>J</b>" in keymap.help_html()
    view.close_video()


def test_a_conflicting_key_is_refused_with_a_message_and_nothing_changes(qtbot, qapp):
    dialog = ShortcutSettingsDialog()
    qtbot.addWidget(dialog)
    dialog.show()
    dialog.select_action("mark_done")
    press_new_key(qtbot, dialog, K.Key_S)
    qtbot.mouseClick(dialog.assign_button, Qt.MouseButton.LeftButton)
    assert dialog.message.text().startswith("Refused") and "Split at the playhead" in dialog.message.text()
    assert dialog.bindings == keymap.defaults()
    row = dialog.row_of("mark_done")
    assert dialog.table.item(row, 2).text() == keymap.display_text("Ctrl+D")
    # clearing S from split first makes it free; reset to defaults undoes both
    dialog.select_action("split")
    qtbot.mouseClick(dialog.clear_button, Qt.MouseButton.LeftButton)
    dialog.select_action("mark_done")
    press_new_key(qtbot, dialog, K.Key_S)
    qtbot.mouseClick(dialog.add_button, Qt.MouseButton.LeftButton)
    assert dialog.bindings["mark_done"] == ("Ctrl+D", "S") and dialog.bindings["split"] == ()
    qtbot.mouseClick(dialog.reset_all_button, Qt.MouseButton.LeftButton)
    assert dialog.bindings == keymap.defaults()
    dialog.reject()
    assert user_settings.get("shortcuts") is None  # Cancel saved nothing


def test_broken_or_conflicting_settings_fall_back_to_the_defaults(qapp):
    user_settings.update(shortcuts={"queue_next": ["S"], "mark_done": ["Ctrl+Shift+D"],
                                    "no_such_action": ["X"], "fit": ["Ctrl+K, Ctrl+F"], "loop": "L"})
    b = keymap.load_bindings()
    assert b["queue_next"] == ("N",)            # S belongs to split: ignored
    assert b["mark_done"] == ("Ctrl+Shift+D",)  # a valid override applies
    assert b["fit"] == ("F",) and b["loop"] == ("L",)
    with pytest.raises(ValueError):
        keymap.save_bindings({**b, "merge": ("S",)})


def test_window_help_sheet_and_edit_menu_dialog_apply_to_the_open_review(qtbot, window):
    window.menus.keys.trigger()  # Help > Keyboard shortcuts
    sheet = window.keys_help_dialog
    assert sheet.isVisible()
    from PySide6.QtWidgets import QTextBrowser

    body = sheet.findChild(QTextBrowser).toPlainText()
    for a in keymap.ACTIONS:
        assert a.description in body
    sheet.close()

    review = window.ensure_review()
    assert window.menus.shortcut_settings in window.menus.edit.actions()
    window.menus.shortcut_settings.trigger()  # Edit > Keyboard shortcuts…
    dialog = window.shortcut_dialog
    dialog.select_action("mark_done")
    press_new_key(qtbot, dialog, K.Key_D, CTRL | SHIFT)
    qtbot.mouseClick(dialog.assign_button, Qt.MouseButton.LeftButton)
    dialog.buttons.button(QDialogButtonBox.StandardButton.Ok).click()
    assert review.keymap.action_for(K.Key_D, CTRL | SHIFT) == "mark_done"
    assert review.keymap.action_for(K.Key_D, CTRL) is None
