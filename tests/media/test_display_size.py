"""Frames at the player's display size: scaled right (rotation too), the GOP neighbourhood of the
shown frame decoded ahead, the newest request wins, damaged files end read-ahead cleanly."""

from __future__ import annotations

import functools
import threading
import time

import cv2
import numpy as np
import pytest

from sdanet_gui.media.display_decoder import fit_size
from sdanet_gui.media.frame_server import FrameServer
from sdanet_gui.media.reader import open_video


@pytest.fixture
def wait_for(wait_for):
    """Display-size decoding starts with a GOP walk: a longer wait than the other media tests."""
    return functools.partial(wait_for, timeout=15.0)


class Frames:
    """on_frame / on_error collector."""

    def __init__(self):
        self.frames, self.errors, self.order = {}, [], []
        self.lock = threading.Lock()

    def on_frame(self, index, frame):
        with self.lock:
            self.frames[index] = frame
            self.order.append(index)

    def on_error(self, index, exc):
        with self.lock:
            self.errors.append((index, exc))


def area_resize(frame, size):
    return cv2.resize(frame, size, interpolation=cv2.INTER_AREA)


def test_fit_size_keeps_the_aspect_and_never_upscales():
    assert fit_size(1920, 1080, (640, 480)) == (640, 360)
    assert fit_size(1920, 1080, (1000, 360)) == (640, 360)
    assert fit_size(320, 568, (200, 200)) == (113, 200)
    assert fit_size(640, 360, (640, 360)) is None          # fits already: full size
    assert fit_size(640, 360, (2000, 2000)) is None
    assert fit_size(640, 360, None) is None


@pytest.mark.timeout(60)
@pytest.mark.parametrize("name, box", [("video_features__v_ZNVhz7ctTq0.mp4", (240, 240)),
                                       ("decord__video_90.mov", (200, 200))])
def test_frames_come_at_display_size_and_match_the_full_frame_scaled(video_dir, name, box, wait_for):
    got = Frames()
    with open_video(video_dir / name) as reader:
        size = fit_size(reader.width, reader.height, box)
        with FrameServer(reader, got.on_frame, on_error=got.on_error, display_size=box) as server:
            assert server.display_size == size
            target = min(reader.frame_count - 1, 100)
            server.request(target)
            assert wait_for(lambda: target in got.frames)
            frame = got.frames[target]
            assert frame.shape == (size[1], size[0], 3) and frame.flags.c_contiguous
            expected = area_resize(reader.frame(target), size)
            assert np.abs(frame.astype(np.int16) - expected).mean() < 3.0
            assert server.cached(target) is frame
            assert not got.errors


@pytest.mark.timeout(60)
def test_paused_server_decodes_the_gop_neighbourhood_at_display_size(video_dir, wait_for):
    """A scrubbing user stays near the shown frame: after showing frame 200 the frames within
    the scrub radius on both sides become cache hits, and nothing beyond it is decoded."""
    got = Frames()
    with open_video(video_dir / "video_features__v_ZNVhz7ctTq0.mp4") as reader:   # keyframe every 2 s
        with FrameServer(reader, got.on_frame, display_size=(240, 180), scrub_radius_s=1.0) as server:
            server.request(200)
            assert wait_for(lambda: 200 in got.frames)
            around = range(170, 231)                              # 1 s each side at 30 fps
            assert wait_for(lambda: all(server.cached(i) is not None for i in around))
            time.sleep(0.2)
            assert server.cached(169) is None and server.cached(231) is None
            for target in (171, 229, 185):                        # scrubbing near: at once
                frame = server.show(target)
                assert frame is not None and frame.shape == (180, 240, 3)
                assert server.last_served == target
            assert got.order == [200]                             # hits are not re-delivered
            assert wait_for(lambda: server.cached(185 - 30) is not None)   # moved with the playhead


@pytest.mark.timeout(60)
def test_at_display_size_the_newest_request_wins(video_dir, wait_for):
    got = Frames()
    with open_video(video_dir / "sleap__dance.mp4") as reader:                      # 406x720
        with FrameServer(reader, got.on_frame, display_size=(203, 360), paused_read_ahead_s=0,
                         scrub_radius_s=0) as server:
            for i in range(0, 441, 8):                       # a fast drag across the video
                server.request(i)
                time.sleep(0.002)
            assert wait_for(lambda: 440 in got.frames)
            assert got.order[-1] == 440 and len(got.order) < 56 and server.dropped > 0
            assert got.order == sorted(got.order)             # never an older frame after a newer


def test_a_video_that_fits_the_display_is_served_at_full_size(video_dir, wait_for):
    got = Frames()
    with open_video(video_dir / "mmaction2__demo.mp4") as reader:                   # 340x256
        with FrameServer(reader, got.on_frame, display_size=(800, 600)) as server:
            assert server.display_size is None
            server.request(30)
            assert wait_for(lambda: 30 in got.frames)
            np.testing.assert_array_equal(got.frames[30], reader.frame(30))
            assert server.set_display_size(170, 128) is True
            assert server.set_display_size(170, 128) is False
            server.request(31)
            assert wait_for(lambda: 31 in got.frames)
            assert got.frames[31].shape == (128, 170, 3)


@pytest.mark.timeout(60)
def test_damaged_file_at_display_size_serves_up_to_the_damage_and_goes_idle(video_dir, wait_for):
    got = Frames()
    with open_video(video_dir / "decord__corrupted.mp4") as reader:                # 28 of 50 frames
        with FrameServer(reader, got.on_frame, on_error=got.on_error, display_size=(320, 180)) as server:
            server.request(27)
            assert wait_for(lambda: 27 in got.frames)
            assert got.frames[27].shape == (180, 320, 3)
            server.request(10_000)                           # clamped to the last decodable frame
            assert wait_for(lambda: all(server.cached(i) is not None for i in range(28)))
            before = server.display_decoded
            time.sleep(0.3)
            assert server.display_decoded == before         # read-ahead ended, no busy loop
            assert not got.errors
