"""The ONE registry of the review window's keyboard actions: id, default key sequence(s),
description and group; the user's overrides; conflict detection; the Help sheet.

Why one place: the review view's key handling, the Help > Keyboard shortcuts sheet and the
Edit > Keyboard shortcuts… dialog must never disagree. The view maps action ids to what they do;
this module says which keys reach which id. Overrides are per user (not per project):
`user_settings` key "shortcuts" = {action id: [portable key text, ...]} holding only the actions
whose keys differ from the defaults ([] = no key). Unknown ids, unparsable keys and overrides
that would make two actions share a key are ignored on load (logged), so a hand-edited settings
file can never break the keyboard.

Keys are single key combinations in Qt's portable text ("Ctrl+Shift+Left", "Shift+Return",
"+"); the keypad modifier is ignored (keypad Enter = Enter, keypad 1 = 1). Chords
("Ctrl+K, Ctrl+S") are refused. A few keys belong to the window's menus (RESERVED) and cannot be
given to an action. This module never performs an action itself.
"""

from __future__ import annotations

import html
import logging
from dataclasses import dataclass
from typing import Iterable, Mapping

from PySide6.QtCore import QKeyCombination, Qt
from PySide6.QtGui import QKeySequence

log = logging.getLogger(__name__)

SETTINGS_KEY = "shortcuts"
PORTABLE = QKeySequence.SequenceFormat.PortableText
NATIVE = QKeySequence.SequenceFormat.NativeText
_MODS = (Qt.KeyboardModifier.ShiftModifier | Qt.KeyboardModifier.ControlModifier
         | Qt.KeyboardModifier.AltModifier | Qt.KeyboardModifier.MetaModifier)

GROUPS = ("Playback", "Timeline", "Selection", "Edit", "Review")


@dataclass(frozen=True)
class Action:
    id: str  # noqa: A003
    defaults: tuple[str, ...]
    description: str
    group: str


ACTIONS: tuple[Action, ...] = (
    Action("play_pause", ("Space",), "Play / pause", "Playback"),
    Action("frame_back", ("Left", ","), "Previous frame", "Playback"),
    Action("frame_forward", ("Right", "."), "Next frame", "Playback"),
    Action("back_1s", ("Shift+Left",), "Back 1 s", "Playback"),
    Action("forward_1s", ("Shift+Right",), "Forward 1 s", "Playback"),
    Action("back_10s", ("Alt+Left",), "Back 10 s", "Playback"),
    Action("forward_10s", ("Alt+Right",), "Forward 10 s", "Playback"),
    Action("first_frame", ("Home",), "First frame", "Playback"),
    Action("last_frame", ("End",), "Last frame", "Playback"),
    Action("slower", ("[",), "Slower (down to 0.1x)", "Playback"),
    Action("faster", ("]",), "Faster (up to 4x)", "Playback"),
    Action("go_to_time", ("Ctrl+G",), "Go to time", "Playback"),
    Action("loop", ("L",), "Loop the selected segment (again: stop looping)", "Playback"),
    Action("fit", ("F",), "Fit the timeline to the video", "Timeline"),
    Action("zoom_in", ("+", "="), "Zoom the timeline in", "Timeline"),
    Action("zoom_out", ("-",), "Zoom the timeline out", "Timeline"),
    Action("next_segment", ("Tab",), "Next segment", "Selection"),
    Action("previous_segment", ("Shift+Tab",), "Previous segment", "Selection"),
    Action("nudge_back", ("Ctrl+Left",), "Nudge the selected boundary 1 frame back", "Edit"),
    Action("nudge_forward", ("Ctrl+Right",), "Nudge the selected boundary 1 frame forward", "Edit"),
    Action("nudge_back_10", ("Ctrl+Shift+Left",), "Nudge the selected boundary 10 frames back", "Edit"),
    Action("nudge_forward_10", ("Ctrl+Shift+Right",), "Nudge the selected boundary 10 frames forward", "Edit"),
    Action("split", ("S",), "Split at the playhead", "Edit"),
    Action("merge", ("M",), "Merge with the next segment", "Edit"),
    Action("mark_in", ("I",), "Mark in (with mark out: adds a segment)", "Edit"),
    Action("mark_out", ("O",), "Mark out (with mark in: adds a segment)", "Edit"),
    Action("delete", ("Del", "Backspace"), "Delete the selected segment", "Edit"),
    *(Action(f"relabel_{n}", (str(n),), f"Relabel as class {n}", "Edit") for n in range(1, 10)),
    Action("class_palette", ("P", "Ctrl+K"), "Class palette: relabel, or pick the class for the next add", "Edit"),
    Action("confirm", ("Return", "Enter"), "Confirm segment / accept prediction", "Edit"),
    Action("undo", ("Ctrl+Z",), "Undo", "Edit"),
    Action("redo", ("Ctrl+Shift+Z", "Ctrl+Y"), "Redo", "Edit"),
    Action("queue_next", ("N",), "Next review item (most uncertain first)", "Review"),
    Action("queue_previous", ("Shift+N",), "Previous review item", "Review"),
    Action("confirm_in_view", ("Shift+Return", "Shift+Enter"), "Confirm all predictions in view", "Review"),
    Action("reviewed_to_playhead", ("R",), "Mark the video reviewed up to the playhead", "Review"),
    Action("mark_done", ("Ctrl+D",), "Mark the video done (fully reviewed)", "Review"),
)
_BY_ID = {a.id: a for a in ACTIONS}

#: keys of the main window's menus: no review action may take them
RESERVED = {"Ctrl+O": "File > Open…", "Ctrl+Shift+O": "File > Open Project…",
            "Ctrl+E": "File > Export…", "Ctrl+Q": "File > Quit"}


def action(action_id: str) -> Action:
    return _BY_ID[action_id]


def defaults() -> dict[str, tuple[str, ...]]:
    return {a.id: tuple(normalize(k) for k in a.defaults) for a in ACTIONS}


# --- key text ----------------------------------------------------------------------------------
def normalize(text: str) -> str:
    """Portable canonical text of ONE key combination; ValueError if it is not one."""
    text = str(text).strip()
    seq = QKeySequence(text, PORTABLE) if text else QKeySequence()
    if seq.count() > 1:
        raise ValueError(f"{text!r}: key chords are not supported, use one key combination")
    if seq.isEmpty() or seq[0].key() == Qt.Key.Key_unknown:
        raise ValueError(f"{text!r} is not a key combination")
    return _text(seq[0].key(), seq[0].keyboardModifiers())


def _text(key, modifiers) -> str:
    key = Qt.Key(key)
    mods = Qt.KeyboardModifier(modifiers) & _MODS
    if key == Qt.Key.Key_Backtab:  # what Shift+Tab arrives as
        key, mods = Qt.Key.Key_Tab, mods | Qt.KeyboardModifier.ShiftModifier
    return QKeySequence(QKeyCombination(mods, key)).toString(PORTABLE)


def event_text(key: int, modifiers) -> str:
    """The portable text of a key event (keypad flag dropped)."""
    return _text(key, modifiers)


def display_text(portable: str) -> str:
    """A key in the platform's native words (Help sheet, dialog)."""
    return QKeySequence(portable, PORTABLE).toString(NATIVE)


# --- bindings -----------------------------------------------------------------------------------
def conflicts(bindings: Mapping[str, Iterable[str]]) -> dict[str, list[str]]:
    """{key: [action ids]} for every key bound to more than one action or RESERVED."""
    owners: dict[str, list[str]] = {}
    for aid, keys in bindings.items():
        for k in keys:
            owners.setdefault(k, []).append(aid)
    return {k: ids for k, ids in owners.items() if len(ids) > 1 or k in RESERVED}


def check_assignment(bindings: Mapping[str, Iterable[str]], action_id: str,
                     keys: Iterable[str]) -> str | None:
    """Why `keys` cannot be given to `action_id` in `bindings` (a message), or None if it can."""
    if action_id not in _BY_ID:
        return f"unknown action {action_id!r}"
    try:
        keys = [normalize(k) for k in keys]
    except ValueError as exc:
        return str(exc)
    for k in keys:
        if k in RESERVED:
            return f"{display_text(k)} is used by {RESERVED[k]}"
        for other, theirs in bindings.items():
            if other != action_id and k in theirs:
                return (f"{display_text(k)} is already used by \"{_BY_ID[other].description}\": "
                        "remove it there first")
    return None


def load_bindings() -> dict[str, tuple[str, ...]]:
    """The defaults with the user's valid overrides applied."""
    from ... import user_settings

    out = defaults()
    raw = user_settings.get(SETTINGS_KEY, {})
    if not isinstance(raw, dict):
        log.warning("settings %r: not an object, using the default shortcuts", SETTINGS_KEY)
        return out
    for aid, keys in raw.items():
        if aid not in _BY_ID or not isinstance(keys, list):
            log.warning("settings %r: ignoring %r", SETTINGS_KEY, aid)
            continue
        try:
            wanted = tuple(dict.fromkeys(normalize(k) for k in keys))
        except ValueError as exc:
            log.warning("settings %r: ignoring %s (%s)", SETTINGS_KEY, aid, exc)
            continue
        trial = dict(out)
        trial[aid] = ()
        problem = check_assignment(trial, aid, wanted)
        if problem:
            log.warning("settings %r: ignoring %s (%s)", SETTINGS_KEY, aid, problem)
            continue
        out[aid] = wanted
    return out


def save_bindings(bindings: Mapping[str, Iterable[str]]) -> None:
    """Store what differs from the defaults (user_settings "shortcuts"); ValueError on a conflict."""
    from ... import user_settings

    norm = {aid: tuple(normalize(k) for k in keys) for aid, keys in bindings.items() if aid in _BY_ID}
    clash = conflicts({**defaults(), **norm})
    if clash:
        key, ids = next(iter(clash.items()))
        raise ValueError(f"{display_text(key)} is bound to {', '.join(ids)}")
    base = defaults()
    changed = {aid: list(keys) for aid, keys in norm.items() if tuple(keys) != base[aid]}
    user_settings.update(**{SETTINGS_KEY: changed or None})


class KeyMap:
    """Key events -> action ids, from bindings {action id: (portable key text, ...)}."""

    def __init__(self, bindings: Mapping[str, Iterable[str]] | None = None):
        self.bindings = {**defaults(), **{k: tuple(v) for k, v in (bindings or {}).items()}}
        self._lookup = {k: aid for aid, keys in self.bindings.items() for k in keys}

    @classmethod
    def load(cls) -> "KeyMap":
        return cls(load_bindings())

    def action_for(self, key: int, modifiers) -> str | None:
        """The action of a key press; a symbol typed with Shift (+ on many layouts) also
        matches its unshifted binding."""
        aid = self._lookup.get(event_text(key, modifiers))
        if aid is None and modifiers & Qt.KeyboardModifier.ShiftModifier and 0x21 <= int(key) <= 0x7e \
                and not chr(int(key)).isalnum():
            aid = self._lookup.get(event_text(key, modifiers & ~Qt.KeyboardModifier.ShiftModifier))
        return aid

    def keys(self, action_id: str) -> tuple[str, ...]:
        return self.bindings.get(action_id, ())

    def bound_keys(self) -> set[str]:
        """Every key some action has."""
        return set(self._lookup)

    def describe(self, action_id: str) -> str:
        """'N' / 'Left, ,' in native words; '' when unbound (tooltips)."""
        return ", ".join(display_text(k) for k in self.keys(action_id))


def help_html(bindings: Mapping[str, Iterable[str]] | None = None) -> str:
    """The Help > Keyboard shortcuts sheet: one table, grouped, from the registry."""
    km = KeyMap(bindings if bindings is not None else load_bindings())
    rows = []
    for group in GROUPS:
        rows.append(f"<tr><td colspan=2><h4 style='margin:6px 0 0 0'>{group}</h4></td></tr>")
        for a in ACTIONS:
            if a.group != group:
                continue
            keys = " or ".join(html.escape(display_text(k)) for k in km.keys(a.id)) or "<i>none</i>"
            rows.append(f"<tr><td><b>{keys}</b></td><td>{html.escape(a.description)}</td></tr>")
    return f"<table cellspacing=3>{''.join(rows)}</table>"


def show_help(parent):
    """Help > Keyboard shortcuts: the sheet in a scrollable, non-modal window (returned)."""
    from PySide6.QtWidgets import QDialog, QDialogButtonBox, QTextBrowser, QVBoxLayout

    dialog = QDialog(parent)
    dialog.setObjectName("keyboardShortcutsHelp")
    dialog.setWindowTitle("Keyboard shortcuts")
    text = QTextBrowser(dialog)
    text.setHtml(help_html())
    buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close, dialog)
    buttons.rejected.connect(dialog.reject)
    layout = QVBoxLayout(dialog)
    layout.addWidget(text)
    layout.addWidget(buttons)
    dialog.resize(520, 640)
    dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
    dialog.show()
    return dialog
