"""The user's settings file: survives restarts, never blocks start-up when damaged."""

from __future__ import annotations

import json

from sdanet_gui import user_settings
from sdanet_gui.paths import app_paths


def test_update_persists_and_none_removes():
    user_settings.update(recent=["/a", "/b"], i3d_weights="/w")
    assert json.loads(app_paths().settings_file.read_text())["recent"] == ["/a", "/b"]
    assert user_settings.get("i3d_weights") == "/w"
    user_settings.update(i3d_weights=None)
    assert "i3d_weights" not in user_settings.load()
    assert user_settings.get("recent") == ["/a", "/b"]


def test_damaged_file_reads_as_empty_and_is_replaced_whole():
    path = app_paths().settings_file
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("{not json")
    assert user_settings.load() == {}
    user_settings.update(shortcuts={"next": "N"})
    assert json.loads(path.read_text()) == {"shortcuts": {"next": "N"}}
    path.write_text("[1, 2]")  # valid JSON, wrong shape
    assert user_settings.get("shortcuts", "default") == "default"


def test_i3d_reads_its_weights_folder_from_the_settings(tmp_path):
    from sdanet_gui.media.i3d import _weights_from_settings

    assert _weights_from_settings() is None
    user_settings.update(i3d_weights=str(tmp_path))
    assert _weights_from_settings() == str(tmp_path)
