"""Fixtures for the review window tests: real videos, a real project in a temp folder."""

from __future__ import annotations

from pathlib import Path

import pytest


DEMO = "mmaction2__demo.mp4"  # 280 frames, 28 fps, 10 s, 340x256


def show_timeline(qtbot, duration: float, times, scores):
    """A shown 1000x420 TimelineWidget of three classes with `scores` [T, 3] at `times` [T] s
    (attention: their max) and threshold 0.5."""
    from sdanet_gui.ui.review.timeline import TimelineWidget

    w = TimelineWidget()
    qtbot.addWidget(w)
    w.resize(1000, 420)
    w.set_duration(duration)
    w.set_classes(["jump", "run", "throw"])
    w.set_scores(times, scores, scores.max(1))
    w.set_thresholds(0.5)
    w.show()
    qtbot.waitExposed(w)
    return w


def write_wrong_features(path: Path) -> Path:
    """A real feature file of 64-d features (32 rgb + 32 flow) for video `path.stem`: what no
    checkpoint of the tests fits."""
    import numpy as np

    from sdanet_gui.data.feature_files import FeatureFile, write_feature_file
    from sdanet_gui.data.units import FeatureSpec

    write_feature_file(path, FeatureFile(path.stem, np.zeros((20, 64), np.float32),
                                         FeatureSpec(modalities=(("rgb", 32), ("flow", 32)))))
    return path


@pytest.fixture
def demo_video(shared_data):
    return shared_data / "videos" / DEMO


@pytest.fixture
def reader(demo_video):
    from sdanet_gui.media.reader import open_video

    r = open_video(demo_video)
    yield r
    r.close()


@pytest.fixture
def project(tmp_path, reader):
    """A project holding the demo video (decoder clock) and three classes."""
    from sdanet_gui.project.store import Project

    p = Project.create(tmp_path / "proj")
    p.add_classes(["arm wrestling", "cheering", "talking"])
    clock = reader.clock
    video = p.add_video("demo", path=reader.path, fps=reader.average_fps,
                        frame_count=reader.frame_count, timestamps=clock.timestamps,
                        duration=clock.duration)
    p.video_id = video.id  # convenience for the tests
    yield p
    p.close()


@pytest.fixture
def review(qtbot, reader, project):
    """A shown ReviewView on the demo video with the project's segments editable."""
    from sdanet_gui.ui.review.review_view import ReviewView

    view = ReviewView()
    qtbot.addWidget(view)
    view.resize(1100, 760)
    view.show()
    qtbot.waitExposed(view)
    view.show_video(reader, project, project.video_id)
    qtbot.waitUntil(lambda: view.player.shown_frame == 0, timeout=5000)
    view.setFocus()
    yield view
    view.close_video()


@pytest.fixture
def new_window(qtbot):
    """Make main windows as a user sees them, shown and exposed (`size`: (w, h) before showing;
    None keeps the window's own or remembered geometry); qtbot closes them after the test.
    For tests that need a second window, e.g. after the first one closed."""
    from sdanet_gui.ui.shell.main_window import MainWindow

    def make(size=None):
        w = MainWindow()
        qtbot.addWidget(w)
        if size is not None:
            w.resize(*size)
        w.show()
        qtbot.waitExposed(w)
        return w

    return make


@pytest.fixture
def window(new_window):
    """The main window as a user sees it, shown and exposed; closed after the test."""
    w = new_window((1280, 820))
    yield w
    w.close()


DEMO_CLASSES = ["Flash", "Slide", "Grow", "Spin"]


@pytest.fixture(scope="session")
def checkpoint(tmp_path_factory):
    """A real, untrained SDANet checkpoint (synthetic preset, narrowed) for the demo's feature
    spec and classes: scoring in the window without the bundled demo model."""
    from sdanet_gui.bundled import resource_files

    import torch

    from sdanet_gui.data.feature_files import read_feature_file
    from sdanet_gui.sdanet.checkpoint import CheckpointMeta, save_checkpoint
    from sdanet_gui.sdanet.config import load_preset
    from sdanet_gui.sdanet.predict import build_model

    torch.set_num_threads(2)
    torch.manual_seed(0)
    spec = read_feature_file(Path(str(resource_files() / "demo" / "features" / "demo_1.h5"))).spec
    config = load_preset("synthetic").to_dict()
    config["model"].update(hidden_dim=32, attention_hidden=16, sda_ffn_dim=32, sda_heads=2, pfm_proj_dim=16)
    model = build_model(config, spec, len(DEMO_CLASSES))
    folder = tmp_path_factory.mktemp("ckpt")
    save_checkpoint(folder / "demo.pt", model.state_dict(),
                    CheckpointMeta(classes=DEMO_CLASSES, spec=spec.to_dict(), config=config))
    return folder / "demo.pt"
