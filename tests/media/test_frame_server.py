"""The frame server: the UI asks, never waits; the newest request wins; read-ahead while playing."""

from __future__ import annotations

import threading
import time

import numpy as np
import pytest

from sdanet_gui.media.frame_server import FrameServer
from sdanet_gui.media.reader import open_video


@pytest.fixture
def reader(video_dir):
    with open_video(video_dir / "moviepy__chaplin.mp4") as r:
        yield r


@pytest.mark.timeout(60)
def test_scrubbing_the_latest_request_wins_and_the_caller_never_waits(reader):
    shown: list[int] = []
    done = threading.Event()

    def on_frame(index, frame):
        assert frame.shape == (360, 640, 3)
        time.sleep(0.03)              # a slow consumer keeps the reader thread busy
        shown.append(index)
        if index == 240:
            done.set()

    with FrameServer(reader, on_frame, paused_read_ahead_s=0, paused_read_back_s=0) as server:
        worst = 0.0
        for i in range(0, 241, 4):    # a fast drag across the whole video
            t0 = time.perf_counter()
            server.request(i)
            worst = max(worst, time.perf_counter() - t0)
            time.sleep(0.002)
        assert done.wait(20), "the last request was never served"
        assert shown[-1] == 240
        assert len(shown) < 61 and server.dropped > 0       # overtaken requests were dropped
        assert shown == sorted(shown)                        # never an older frame after a newer
        assert worst < 0.02, f"request() blocked for {worst * 1000:.1f} ms"
        np.testing.assert_array_equal(server.cached(240), reader.frame(240))


def test_cached_never_decodes(reader, wait_for):
    with FrameServer(reader, paused_read_ahead_s=0, paused_read_back_s=0) as server:
        assert server.cached(100) is None
        assert reader.decoded_frames == 0
        server.request(100)
        assert wait_for(lambda: server.cached(100) is not None)
        assert server.cached(-1) is None and server.cached(10_000) is None


def test_playing_reads_ahead_and_pausing_stops_it(reader, wait_for):
    got = []
    with FrameServer(reader, lambda i, f: got.append(i), read_ahead_s=0.4,
                     paused_read_ahead_s=0, paused_read_back_s=0) as server:
        server.set_playing(True, speed=1.0)
        server.request(50)
        ahead = range(51, 51 + 10)    # 0.4 s at 25 fps
        assert wait_for(lambda: all(i in reader.cache for i in ahead))
        assert server.read_ahead >= 10
        assert got == [50]            # read-ahead fills the cache; it does not show frames
        server.set_playing(False)
        server.request(150)
        assert wait_for(lambda: server.last_served == 150)
        time.sleep(0.2)
        assert 151 not in reader.cache


def test_paused_server_fills_the_neighbourhood_of_the_shown_frame(video_dir, wait_for):
    with open_video(video_dir / "video_features__v_ZNVhz7ctTq0.mp4") as reader:   # keyframe every 2 s
        with FrameServer(reader, paused_read_ahead_s=0.2, paused_read_back_s=0.4) as server:
            server.request(200)
            around = range(188, 207)             # 0.4 s back, 0.2 s ahead at 30 fps
            assert wait_for(lambda: all(i in reader.cache for i in around))
            time.sleep(0.1)
            assert 187 not in reader.cache and 207 not in reader.cache
            server.request(190)
            assert wait_for(lambda: server.last_served == 190)


def test_no_backward_read_ahead_where_keyframes_are_too_far_apart(reader, wait_for):
    """chaplin.mp4 has one keyframe: reading back from frame 120 would decode 110 frames first."""
    assert reader.keyframe_before(120) == 0
    with FrameServer(reader, paused_read_ahead_s=0.2, paused_read_back_s=0.4) as server:
        server.request(120)
        assert wait_for(lambda: all(i in reader.cache for i in range(120, 126)))
        time.sleep(0.2)
        assert not any(i in reader.cache for i in range(110, 120))


def test_paused_by_default_a_long_gop_is_read_from_its_keyframe_so_a_backward_drag_hits(reader, wait_for):
    """chaplin.mp4 has one keyframe: with the default 5-s neighbourhood the walk back starts AT
    that keyframe (no wasted decoding), so the frames before the shown one become cached and a
    drag backwards is served from the cache."""
    with FrameServer(reader) as server:
        server.request(120)
        assert wait_for(lambda: all(i in reader.cache for i in range(0, 241)), timeout=20)
        decoded = reader.decoded_frames
        for i in range(119, 60, -3):                      # the playhead dragged backwards
            assert server.show(i) is not None, f"frame {i} not cached"
        assert reader.decoded_frames == decoded


def test_a_request_just_behind_the_shown_frame_caches_what_the_decoder_passes(reader, wait_for):
    """Dragging backwards in chaplin.mp4 (one keyframe): the read-ahead does not walk back 70
    frames from the keyframe for 2 s of neighbourhood, but a request 2 frames behind the shown
    one caches the 2 s the decoder passes anyway, so the rest of the drag is served from the
    cache; a far seek (a click) decodes only its own frame."""
    with FrameServer(reader, paused_read_ahead_s=0, paused_read_back_s=2.0) as server:
        server.request(120)
        assert wait_for(lambda: server.last_served == 120)
        time.sleep(0.1)
        assert not any(i in reader.cache for i in range(68, 118))   # the walk does not go back
        server.request(118)
        assert wait_for(lambda: server.last_served == 118)
        assert all(i in reader.cache for i in range(68, 119))
        decoded = reader.decoded_frames
        assert all(server.show(i) is not None for i in range(116, 68, -2))
        assert reader.decoded_frames == decoded
        server.request(230)                                          # a click far ahead
        assert wait_for(lambda: server.last_served == 230)
        assert not any(i in reader.cache for i in range(180, 229))


def test_errors_reach_on_error_and_the_server_lives_on(video_dir, wait_for):
    errors = []
    with open_video(video_dir / "decord__video_0.mov") as r:
        r.close()                      # every decode now fails
        with FrameServer(r, on_error=lambda i, e: errors.append((i, e)), paused_read_ahead_s=0,
                         paused_read_back_s=0) as s:
            s.request(1)
            assert wait_for(lambda: errors)
            assert errors[0][0] == 1 and "closed" in str(errors[0][1])
            s.request(2)
            assert wait_for(lambda: len(errors) == 2)


def test_close_joins_the_reader_thread(reader):
    server = FrameServer(reader)
    server.request(10)
    server.close()
    assert not server.is_running()


def test_show_returns_cached_frames_at_once_and_requests_the_rest(reader, wait_for):
    got = []
    with FrameServer(reader, lambda i, f: got.append(i), paused_read_ahead_s=0.2,
                     paused_read_back_s=0) as server:
        assert server.show(60) is None                       # not decoded yet: requested
        assert wait_for(lambda: got == [60])
        assert wait_for(lambda: 65 in reader.cache)          # paused read-ahead around 60
        frame = server.show(65)
        assert frame is not None and server.last_served == 65
        np.testing.assert_array_equal(frame, reader.frame(65))
        assert wait_for(lambda: 70 in reader.cache)          # the neighbourhood moved with it
        assert got == [60]                                   # a cache hit is not re-delivered
