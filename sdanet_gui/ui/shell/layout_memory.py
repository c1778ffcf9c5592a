"""What the window remembers between sessions: its geometry and dock layout (per user), and the
last playhead position of each video (per project).

Why one module: both are "put things back where the user left them", both are read at moments
where speed matters (window start, opening a video) and both must never fail loudly: a broken
or foreign value is ignored (logged) and the window simply starts with its defaults.

- Window: `QMainWindow.saveGeometry/saveState` as base64 text in `user_settings` under
  "window_layout" (saved at close, restored at the end of the window's constructor: one small
  JSON read and two Qt calls, no measurable start-up cost). The docks are hidden until a project
  or video is open, so their visibility is remembered separately: docks the user closed while a
  video was shown ("closed_docks") stay closed when the window later shows its docks
  (`DockMemory.show`), and a dock is shown automatically only once per session. Docks built later
  (post-processing) get their place back from QMainWindow.restoreDockWidget.
- Playhead: the project setting "last_positions" = {video id: seconds}, written when the window
  switches video or closes (`remember_position`), read when the video is shown again
  (`saved_position`). Seconds, not frames, so a re-located file (another clock) still lands
  at the same moment.

Never writes anything during start-up; never raises into the window.
"""

from __future__ import annotations

import base64
import binascii
import logging

from PySide6.QtCore import QByteArray

from ... import user_settings
from ...errors import UserError

log = logging.getLogger(__name__)

LAYOUT_KEY = "window_layout"
STATE_VERSION = 1  # bump when the docks change so an old state is not applied to a new window
POSITIONS_KEY = "last_positions"


def _b64(data: QByteArray) -> str:
    return base64.b64encode(bytes(data)).decode("ascii")


def _unb64(text) -> QByteArray | None:
    if not isinstance(text, str):
        return None
    try:
        return QByteArray(base64.b64decode(text.encode("ascii"), validate=True))
    except (binascii.Error, ValueError):
        return None


# --- window geometry and docks (per user) ---------------------------------------------------------
def save_window_layout(window, review_docks, docks_in_use: bool) -> None:
    """At close: geometry, dock/toolbar state, and which of `review_docks` the user closed (if
    the docks were in use, i.e. a video was shown; otherwise the previous choice is kept)."""
    saved = user_settings.get(LAYOUT_KEY, {})
    closed = saved.get("closed_docks", []) if isinstance(saved, dict) else []
    if docks_in_use:
        closed = sorted(d.objectName() for d in review_docks if not d.isVisible())
    layout = {"geometry": _b64(window.saveGeometry()), "state": _b64(window.saveState(STATE_VERSION)),
              "closed_docks": closed}
    try:
        user_settings.update(**{LAYOUT_KEY: layout})
    except UserError as exc:
        log.warning("cannot save the window layout: %s", exc)


def restore_window_layout(window) -> bool:
    """At start: put geometry and dock placement back; the docks stay hidden (nothing is open
    yet). Returns whether a saved layout was applied."""
    saved = user_settings.get(LAYOUT_KEY)
    if not isinstance(saved, dict):
        return False
    geometry, state = _unb64(saved.get("geometry")), _unb64(saved.get("state"))
    ok = False
    if geometry is not None:
        ok = window.restoreGeometry(geometry)
    if state is not None:
        hidden = [d for d in _all_docks(window) if d.isHidden()]  # (the window is not shown yet)
        ok = window.restoreState(state, STATE_VERSION) and ok
        for dock in hidden:  # nothing is open yet: the docks appear with a project / a video
            dock.hide()
    if not ok:
        log.info("ignoring a saved window layout that does not fit this window")
    return ok


def closed_docks() -> set[str]:
    saved = user_settings.get(LAYOUT_KEY)
    names = saved.get("closed_docks", []) if isinstance(saved, dict) else []
    return {n for n in names if isinstance(n, str)}


class DockMemory:
    """Shows the review's docks the first time they are needed in this session, except those the
    user closed last time; after that the user alone shows and hides them (View menu)."""

    def __init__(self):
        self.closed = closed_docks()
        self.shown: set[str] = set()

    def show(self, docks) -> list:
        """Show what is due; returns the docks shown now (for the first time this session)."""
        shown = []
        for dock in docks:
            if dock is None or dock.objectName() in self.shown:
                continue
            self.shown.add(dock.objectName())
            if dock.objectName() not in self.closed:
                dock.show()
                shown.append(dock)
        return shown


def _all_docks(window):
    from PySide6.QtWidgets import QDockWidget

    return window.findChildren(QDockWidget)


# --- playhead per video (per project) ----------------------------------------------------------
def remember_position(project, video_id: int, seconds: float) -> None:
    """The playhead of a video being closed, saved in its project."""
    if project is None or project.closed:
        return
    positions = project.get_setting(POSITIONS_KEY, {})
    positions = dict(positions) if isinstance(positions, dict) else {}
    seconds = round(float(seconds), 6)
    if positions.get(str(video_id)) == seconds:
        return
    positions[str(video_id)] = seconds
    try:
        project.set_setting(POSITIONS_KEY, positions)
    except UserError as exc:  # a read-only project: the position is a convenience
        log.warning("cannot remember the position in %s: %s", project.folder, exc)


def saved_position(project, video_id: int) -> float | None:
    positions = project.get_setting(POSITIONS_KEY, {})
    value = positions.get(str(video_id)) if isinstance(positions, dict) else None
    return float(value) if isinstance(value, (int, float)) and value >= 0 else None
