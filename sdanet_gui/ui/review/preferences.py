"""The reviewer's preferences about how editing behaves (user settings; cheap to import, the
menus read them at start-up)."""

from __future__ import annotations

from ... import user_settings

# While a boundary is dragged or nudged the player shows its frame; then it goes back to where
# the reviewer was (True, the default) or stays at the boundary (False).
RETURN_SETTING = "return_to_playhead_after_edit"


def return_after_edit() -> bool:
    return bool(user_settings.get(RETURN_SETTING, True))


def set_return_after_edit(on: bool) -> None:
    user_settings.update(**{RETURN_SETTING: bool(on)})
