"""Fixtures for the media tests: the sample videos, PyAV reference decodes, generated files."""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest

# the same folder as tests/conftest.py SHARED_DATA (a conftest cannot import another one)
VIDEO_DIR = Path(os.environ.get("SDANET_SHARED_DATA") or Path(__file__).resolve().parents[1] / "assets") / "videos"
ALL_VIDEOS = sorted(p.name for p in VIDEO_DIR.iterdir())


@dataclass
class Reference:
    """What a plain PyAV decode of the file gives (the tests' ground truth)."""

    times: np.ndarray            # [N] seconds, first frame at 0
    frames: dict                 # index -> RGB uint8 [H, W, 3] with rotation applied
    rotation_cw: int             # degrees clockwise for display
    error: str | None            # decode error that stopped the decode, if any


def pyav_reference(path: Path, keep=()) -> Reference:
    """Decode every frame with PyAV directly (no project code); keep RGB of the `keep` indices."""
    import av

    pts, frames, error, rotation = [], {}, None, 0
    with av.open(str(path)) as container:
        stream = container.streams.best("video")
        tb = stream.time_base
        decoded = []
        try:
            for frame in container.decode(stream):
                decoded.append(frame)
        except av.error.InvalidDataError as exc:
            error = str(exc)
        # frame i is the i-th picture the decoder puts out (display order); timestamps sorted,
        # because packed B-frame AVIs label their pictures out of order
        n = len(decoded)
        wanted = {(k if k >= 0 else n + k) for k in keep}
        pts = sorted(frame.pts for frame in decoded)
        for i, frame in enumerate(decoded):
            if i == 0:
                rotation = int(-(frame.rotation or 0)) % 360
            if i in wanted:
                rgb = frame.to_ndarray(format="rgb24")
                frames[i] = np.ascontiguousarray(np.rot90(rgb, k=-(rotation // 90)))
    times = (np.asarray(pts, dtype=np.int64) - pts[0]) * float(Fraction(tb))
    return Reference(times, frames, rotation, error)


@pytest.fixture(scope="session")
def video_dir() -> Path:
    return VIDEO_DIR


@pytest.fixture
def audio_only_file(tmp_path) -> Path:
    """A 1-second sine tone in an .m4a-like container with no video stream, written by PyAV."""
    import av

    path = tmp_path / "tone.wav"
    rate = 8000
    with av.open(str(path), "w", format="wav") as container:
        stream = container.add_stream("pcm_s16le", rate=rate)
        t = np.arange(rate) / rate
        samples = (np.sin(2 * np.pi * 440 * t) * 10000).astype(np.int16)[None, :]
        frame = av.AudioFrame.from_ndarray(samples, format="s16", layout="mono")
        frame.sample_rate = rate
        for packet in stream.encode(frame):
            container.mux(packet)
        for packet in stream.encode(None):
            container.mux(packet)
    return path


@pytest.fixture(scope="session")
def random_i3d_weights(tmp_path_factory) -> Path:
    """rgb_imagenet.pt / flow_imagenet.pt with RANDOM weights in the pytorch-i3d key layout."""
    import torch

    from sdanet_gui.media.i3d import save_random_weights

    torch.set_num_threads(2)
    return save_random_weights(tmp_path_factory.mktemp("i3d-weights"), seed=1)


def poll_until(predicate, timeout: float = 10.0) -> bool:
    """Poll `predicate` every 5 ms until it is true or `timeout` seconds pass; its last value."""
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if predicate():
            return True
        time.sleep(0.005)
    return predicate()


@pytest.fixture
def wait_for():
    """`poll_until`: the frame server answers from its reader thread, the tests wait for it."""
    return poll_until
