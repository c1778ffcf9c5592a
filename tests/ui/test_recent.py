"""File > Open Recent: what a user opened comes back in a new window, most recent first; entries
that no longer exist are disabled; Clear empties the list. Real windows, real projects."""

from __future__ import annotations

import shutil

from sdanet_gui import user_settings
from sdanet_gui.project.exchange import locate_video_file
from sdanet_gui.project.store import Project
from sdanet_gui.ui.shell.recent import MAX_RECENT, RECENT_KEY, add_recent, recent_entries


def _project_with_video(folder, video):
    with Project.create(folder) as p:
        p.add_classes(["action"])
        p.add_video(video.stem)
        locate_video_file(p, video.stem, video)
    return folder


def _shown(window, frames):
    return lambda: (window.review is not None and window.review.player.shown_frame is not None
                    and window.review.player.frame_count == frames)


def test_an_opened_project_is_in_open_recent_of_a_new_window_and_opens_from_there(
        qtbot, tmp_path, demo_video, shared_data, new_window):
    folder = _project_with_video(tmp_path / "my project", demo_video)
    other = shared_data / "videos" / "sleap__small_robot_3_frame.mp4"
    first = new_window()
    assert first.menus.recent.menuAction() in first.menus.file.actions()
    first.open_paths([folder])
    qtbot.waitUntil(_shown(first, 280), timeout=15000)
    first.open_paths([other])  # a file: listed under Files, the project stays first of Projects
    qtbot.waitUntil(lambda: first.project.find_video(other.stem) is not None, timeout=15000)
    first.close()

    second = new_window()
    menu = second.menus.recent
    menu.rebuild()
    entries = menu.entry_actions()
    assert [a.data() for a in entries] == [str(folder.resolve()), str(other.resolve())]
    assert all(a.isEnabled() for a in entries) and "my project" in entries[0].text()
    # the auto-created Untitled project of the first window is not involved: we opened ours
    entries[0].trigger()
    assert second.project is not None and second.project.folder.resolve() == folder.resolve()
    qtbot.waitUntil(_shown(second, 280), timeout=15000)
    # choosing the open project again does not try to open it twice (it is locked by us)
    menu.rebuild()
    menu.entry_actions()[0].trigger()
    assert "already open" in second.statusBar().currentMessage()
    second.close()


def test_entries_that_no_longer_exist_are_disabled_and_clear_empties_the_list(qtbot, tmp_path, demo_video,
                                                                               new_window):
    kept = _project_with_video(tmp_path / "kept", demo_video)
    gone = _project_with_video(tmp_path / "gone", demo_video)
    video = tmp_path / "clip.mp4"
    shutil.copy(demo_video, video)
    add_recent([video], "file")
    add_recent(gone, "project")
    add_recent(kept, "project")
    shutil.rmtree(gone)
    video.unlink()
    w = new_window()
    w.menus.recent.rebuild()
    by_path = {a.data(): a for a in w.menus.recent.entry_actions()}
    assert by_path[str(kept.resolve())].isEnabled()
    for path in (gone, video):
        action = by_path[str(path.resolve())]
        assert not action.isEnabled() and "not found" in action.text()
    w.menus.recent.action_clear.trigger()
    assert recent_entries() == [] and RECENT_KEY not in user_settings.load()
    assert w.menus.recent.entry_actions() == [] and not w.menus.recent.action_clear.isEnabled()


def test_most_recent_first_without_duplicates_and_at_most_ten_per_kind(tmp_path):
    files = []
    for i in range(MAX_RECENT + 3):
        f = tmp_path / f"v{i}.mp4"
        f.write_bytes(b"x")
        files.append(f)
        add_recent(f, "file")
    add_recent(tmp_path / "p", "project")
    add_recent(tmp_path / "." / "v5.mp4", "file")  # another spelling of a listed file
    names = [e["path"].rsplit("/", 1)[-1] for e in recent_entries("file")]
    assert names == ["v5.mp4", "v12.mp4", "v11.mp4", "v10.mp4", "v9.mp4", "v8.mp4", "v7.mp4",
                     "v6.mp4", "v4.mp4", "v3.mp4"]
    assert [e["kind"] for e in recent_entries()].count("project") == 1
    # a hand-edited, broken list is read as far as it makes sense, never raised
    user_settings.update(recent=[{"path": 3}, "junk", {"path": str(files[0]), "kind": "file"}])
    assert recent_entries() == [{"path": str(files[0]), "kind": "file"}]
