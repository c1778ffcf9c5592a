"""Feature extraction from the window (ui/panels/extraction.py, jobs/extraction.py), end to end with real parts: real videos
copied into a temp folder, the real window and project, the real `tiny` extractor writing real
HDF5 files in the worker thread, Cancel clicked with the mouse, and a real i3d-shaped checkpoint
without weight files."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QMessageBox, QPushButton

from sdanet_gui.data.units import FeatureSpec
from sdanet_gui.errors import UserError
from sdanet_gui.ui.review.timeline import NO_SCORES_TEXT

LONG = "video_features__v_GGSY1Qvo990.mp4"   # 18.2 s, 28 tiny snippets: long enough to cancel in
SHORT = "mmaction2__demo.mp4"                # 10 s, 15 tiny snippets


def copy_video(shared_data, name: str, tmp_path: Path, as_name: str) -> Path:
    dst = tmp_path / "videos" / as_name
    dst.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(shared_data / "videos" / name, dst)
    return dst


def open_videos(qtbot, window, paths: list[Path]):
    window.open_paths(paths)
    qtbot.waitUntil(lambda: window.project is not None and len(window.project.videos()) == len(paths)
                    and window.review is not None and window.review.player.shown_frame == 0, timeout=20000)
    return window.project


def message_box(window, name: str) -> QMessageBox:
    box = window.findChild(QMessageBox, name)
    assert box is not None and box.isVisible(), f"no visible {name} dialog"
    return box


def click_button(qtbot, box: QMessageBox, text_start: str) -> None:
    button = next(b for b in box.findChildren(QPushButton) if b.text().startswith(text_start))
    qtbot.mouseClick(button, Qt.MouseButton.LeftButton)


def make_checkpoint(folder: Path, spec: FeatureSpec) -> Path:
    """A real (untrained, narrowed) SDANet checkpoint for features of `spec`."""
    import torch

    from sdanet_gui.sdanet.checkpoint import CheckpointMeta, save_checkpoint
    from sdanet_gui.sdanet.config import load_preset
    from sdanet_gui.sdanet.predict import build_model

    torch.set_num_threads(2)
    torch.manual_seed(0)
    config = load_preset("synthetic").to_dict()
    config["model"].update(hidden_dim=16, attention_hidden=8, sda_ffn_dim=16, sda_heads=2, pfm_proj_dim=8)
    model = build_model(config, spec, 2)
    path = folder / f"model_{spec.feature_dim}.pt"
    save_checkpoint(path, model.state_dict(), CheckpointMeta(classes=["a", "b"], spec=spec.to_dict(), config=config))
    return path


def test_load_checkpoint_offers_extraction_writes_features_and_scores(
        qtbot, window, checkpoint, shared_data, tmp_path, monkeypatch):
    from sdanet_gui.data.feature_files import read_feature_file
    from sdanet_gui.media.tiny_extractor import TinyExtractor
    clip = copy_video(shared_data, SHORT, tmp_path, "clip.mp4")
    project = open_videos(qtbot, window, [clip])
    vid = window.current_video_id
    assert project.video(vid).feature_ref is None
    monkeypatch.setattr("sdanet_gui.ui.shell.main_window.QFileDialog.getOpenFileName",
                        lambda *a, **k: (str(checkpoint), ""))
    ext = window.extraction
    progress, finished, dialog_seen = [], [], []
    ext.progress.connect(lambda *a: (progress.append(a), dialog_seen.append(ext.dialog.isVisible())))
    ext.finished.connect(lambda cancelled, ids: finished.append((cancelled, ids)))

    window.menus.load_checkpoint.trigger()  # Model > Load checkpoint… (the 256-d demo spec = tiny)
    click_button(qtbot, message_box(window, "extractOffer"), "Extract and score")
    qtbot.waitUntil(lambda: bool(finished), timeout=30000)

    assert finished == [(False, [vid])] and ext.extractor == "tiny" and not ext.errors
    out = Path(project.folder) / "features" / "tiny" / "clip.h5"
    assert project.video(vid).feature_ref == "features/tiny/clip.h5" and out.is_file()
    ff = read_feature_file(out)
    duration = project.video(vid).duration
    t = TinyExtractor.spec.snippet_count(duration)
    assert ff.features.shape == (t, 256) and ff.extractor == "tiny" and np.isfinite(ff.features).all()
    assert ff.features.std(0).mean() > 0  # real, varying features, not a constant fill
    # progress: per video and overall, non-decreasing, ending with the whole video done
    assert progress[-1] == (0, 1, "clip", t, t)
    dones = [p[3] for p in progress]
    assert dones == sorted(dones) and any(0 < d < t for d in dones) and all(dialog_seen)
    assert ext.dialog is None  # the progress dialog went away
    # then the window scores the new features with that checkpoint and stores predictions
    qtbot.waitUntil(lambda: "clip" in window.session.scored_videos(), timeout=60000)
    assert window.session.result("clip").cas.shape == (t, 5)
    assert project.predicted_segments(vid)
    # the curves are there at once (no reopening), in the model's lanes: the default lane the new
    # project drew in went (no stray `action` lane shifting the colours), and they reach the end
    # of the video although its last part is shorter than a snippet
    timeline = window.review.timeline
    assert not timeline.no_scores_label.isVisible()
    assert project.classes() == timeline.classes == ["Flash", "Slide", "Grow", "Spin"]
    times, curves, _ = timeline.scores
    assert curves.shape[1] == 4 and np.ptp(curves, axis=0).max() > 0   # real curves in the lanes
    assert t * TinyExtractor.spec.snippet_seconds < duration and times[-1] == pytest.approx(duration)


def test_a_video_added_to_a_project_with_a_model_is_scored_without_asking(
        qtbot, window, checkpoint, shared_data, tmp_path, monkeypatch):
    first = copy_video(shared_data, SHORT, tmp_path, "first.mp4")
    project = open_videos(qtbot, window, [first])
    monkeypatch.setattr("sdanet_gui.ui.shell.main_window.QFileDialog.getOpenFileName",
                        lambda *a, **k: (str(checkpoint), ""))
    window.menus.load_checkpoint.trigger()
    click_button(qtbot, message_box(window, "extractOffer"), "Extract and score")
    qtbot.waitUntil(lambda: "first" in window.session.scored_videos(), timeout=90000)
    model = window.session.active.name
    seen = []   # what the score area says while the new video's scores are on their way
    label = window.review.timeline.no_scores_label
    window.extraction.progress.connect(lambda *a: seen.append(label.toPlainText()))

    second = copy_video(shared_data, SHORT, tmp_path, "second.mp4")
    window.open_paths([second])     # dropped on the window: no question, extraction starts
    qtbot.waitUntil(lambda: window.extraction.busy() or "second" in window.session.scored_videos(),
                    timeout=20000)
    assert window.findChild(QMessageBox, "extractOffer") is None or \
        not window.findChild(QMessageBox, "extractOffer").isVisible()
    qtbot.waitUntil(lambda: "second" in window.session.scored_videos(), timeout=90000)
    assert any(text.startswith("Extracting features") and model in text for text in seen), seen
    assert NO_SCORES_TEXT not in seen      # never "load a checkpoint" while its scores are coming
    qtbot.waitUntil(lambda: window.current_video_id == project.video("second").id, timeout=20000)
    assert project.predicted_segments("second", window.session.active.id)
    assert not label.isVisible() and window.review.timeline.scores is not None


def test_cancel_stops_extraction_without_half_written_files_and_window_stays_usable(
        qtbot, window, shared_data, tmp_path):
    long_clip = copy_video(shared_data, LONG, tmp_path, "a_long.mp4")
    short_clip = copy_video(shared_data, SHORT, tmp_path, "b_short.mp4")
    project = open_videos(qtbot, window, [long_clip, short_clip])
    ext = window.extraction
    progress, finished, clicked = [], [], []
    ext.finished.connect(lambda cancelled, ids: finished.append((cancelled, ids)))

    def on_progress(index, count, name, done, total):
        progress.append((index, name, done, total))
        if 0 < done < total and not clicked:  # mid-way through the first video: Cancel
            clicked.append(name)
            qtbot.mouseClick(ext.dialog.cancel_button, Qt.MouseButton.LeftButton)

    ext.progress.connect(on_progress)
    window.menus.extract.trigger()  # Model > Extract features…, no checkpoint loaded: choose one
    click_button(qtbot, message_box(window, "extractorChoice"), "tiny")
    qtbot.waitUntil(lambda: bool(finished), timeout=30000)

    cancelled, ids = finished[0]
    assert cancelled and ids == [] and clicked == ["a_long"]
    out_dir = Path(project.folder) / "features" / "tiny"
    leftovers = sorted(p.name for p in out_dir.iterdir()) if out_dir.exists() else []
    assert leftovers == []  # no half-written .h5, no temporary file
    assert all(v.feature_ref is None for v in project.videos())
    assert ext.dialog is None and not ext.busy()
    assert "cancelled" in window.statusBar().currentMessage()

    # the window is still usable: the player steps, and a new extraction runs to the end
    window.review.setFocus()
    qtbot.keyClick(window.review, Qt.Key.Key_Right)
    qtbot.waitUntil(lambda: window.review.player.shown_frame == 1, timeout=5000)
    finished.clear()
    short = project.find_video("b_short")
    assert ext.start([short], extractor="tiny")
    qtbot.waitUntil(lambda: bool(finished), timeout=30000)
    assert finished == [(False, [short.id])]
    assert sorted(p.name for p in out_dir.iterdir()) == ["b_short.h5"]
    assert project.video(short.id).feature_ref == "features/tiny/b_short.h5"


def test_a_checkpoint_needing_i3d_without_weights_names_the_files_in_a_dialog(
        qtbot, window, shared_data, tmp_path, monkeypatch):
    from sdanet_gui.media.i3d import WEIGHTS_ENV, resolve_weights_dir

    monkeypatch.delenv(WEIGHTS_ENV, raising=False)
    with pytest.raises(UserError) as expected:  # the i3d module's own message is the one to show
        resolve_weights_dir()
    ck = make_checkpoint(tmp_path, FeatureSpec())  # rgb 1024 + flow 1024 = i3d features
    clip = copy_video(shared_data, SHORT, tmp_path, "clip.mp4")
    project = open_videos(qtbot, window, [clip])
    monkeypatch.setattr("sdanet_gui.ui.shell.main_window.QFileDialog.getOpenFileName", lambda *a, **k: (str(ck), ""))
    window.menus.load_checkpoint.trigger()
    click_button(qtbot, message_box(window, "extractOffer"), "Extract and score")
    qtbot.waitUntil(lambda: window.findChild(QMessageBox, "errorDialog") is not None, timeout=30000)

    box = window.findChild(QMessageBox, "errorDialog")
    assert box.text() == str(expected.value)
    assert "rgb_imagenet.pt" in box.text() and "flow_imagenet.pt" in box.text()
    assert str(resolve_weights_dir.__globals__["default_weights_dir"]()) in box.text()
    assert not (Path(project.folder) / "features").exists()
    assert project.video(window.current_video_id).feature_ref is None
    assert window.isVisible() and not window.extraction.busy()


def test_the_extractor_is_chosen_by_the_checkpoints_feature_dims():
    from sdanet_gui.jobs.extraction import extractor_for_spec

    tiny = FeatureSpec(modalities=(("appearance", 128), ("motion", 128)))
    assert extractor_for_spec(tiny) == "tiny"
    assert extractor_for_spec(FeatureSpec()) == "i3d"
    with pytest.raises(UserError) as err:
        extractor_for_spec(FeatureSpec(modalities=(("rgb", 512), ("flow", 512))), "m.pt")
    msg = str(err.value)
    assert msg.startswith("m.pt: ") and "1024-d" in msg and "2048-d I3D" in msg and "256-d tiny" in msg
    with pytest.raises(UserError, match="at 30 fps"):
        extractor_for_spec(FeatureSpec(fps=30.0))
