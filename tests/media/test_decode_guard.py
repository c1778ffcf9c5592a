"""A decode that never returns must not leave the UI waiting: the frame server's watchdog reports
it through on_error and answers later requests until the decode comes back."""

from __future__ import annotations

import time

import pytest

from sdanet_gui.errors import UserError
from sdanet_gui.media.frame_server import FrameServer
from sdanet_gui.media.reader import open_video


@pytest.mark.timeout(60)
def test_a_stuck_decode_is_reported_and_requests_are_answered_until_it_returns(video_dir, wait_for):
    errors, frames = [], []
    with open_video(video_dir / "moviepy__chaplin.mp4") as reader:
        # an unfinished extraction pass holds the reader's decoder: the server's decode blocks,
        # exactly as it would inside a decoder that hangs on a damaged file
        extraction = reader.iter_frames(range(0, 5))
        next(extraction)
        with FrameServer(reader, lambda i, f: frames.append(i), on_error=lambda i, e: errors.append((i, e)),
                         paused_read_ahead_s=0, paused_read_back_s=0, decode_timeout_s=0.3) as server:
            t0 = time.monotonic()
            server.request(100)
            assert wait_for(lambda: errors)
            assert time.monotonic() - t0 < 5
            index, exc = errors[0]
            assert index == 100 and isinstance(exc, UserError)
            assert "frame 100 was not decoded within 0.3 s" in str(exc) and "chaplin" in str(exc)
            server.request(120)                             # the reader thread is still stuck
            assert wait_for(lambda: len(errors) == 2)
            assert errors[1][0] == 120 and frames == []
            extraction.close()                              # the decoder comes free
            assert wait_for(lambda: frames == [100])
            server.request(130)
            assert wait_for(lambda: frames == [100, 130])
            assert len(errors) == 2


@pytest.mark.timeout(60)
def test_damaged_file_at_full_size_never_hangs_the_reader_thread(video_dir, wait_for):
    errors, frames = [], []
    with open_video(video_dir / "decord__corrupted.mp4") as reader:
        with FrameServer(reader, lambda i, f: frames.append(i), on_error=lambda i, e: errors.append(i),
                         decode_timeout_s=5) as server:
            for i in (27, 0, 13, 10_000):                   # 10_000 is clamped to the last frame
                server.request(i)
                assert wait_for(lambda: frames and frames[-1] == min(i, 27)), f"frame {i} never came"
            assert not errors
