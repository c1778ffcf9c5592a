"""The byte-bounded frame cache: the bound holds with the spare buffer counted, the spare is only
reused when nobody holds it, and frames decoded into recycled buffers are the right frames."""

from __future__ import annotations

import weakref

import numpy as np

from sdanet_gui.media.frame_cache import FrameCache, return_big_allocations_to_the_os
from sdanet_gui.media.reader import open_video


def frame(value, shape=(100, 100, 3)):
    return np.full(shape, value, dtype=np.uint8)


def test_the_bound_holds_with_the_spare_and_the_evicted_buffer_is_reused():
    one = frame(0).nbytes
    cache = FrameCache(3 * one)
    for i in range(5):
        cache.put(i, frame(i))
        assert cache.nbytes + cache.spare_bytes <= cache.max_bytes
    assert len(cache) == 2 and cache.spare_bytes == one      # 2 cached + 1 spare = the bound
    buf = cache.take_buffer((100, 100, 3))
    assert buf is not None and buf.flags.writeable and cache.spare_bytes == 0
    assert int(buf[0, 0, 0]) == 2                              # the least recently used one
    buf[:] = 9
    cache.put(5, buf)
    assert cache.get(5) is buf and not buf.flags.writeable
    assert cache.take_buffer((50, 50, 3)) is None              # wrong shape: allocate anew


def test_a_spare_someone_still_holds_is_never_written_into():
    one = frame(0).nbytes
    cache = FrameCache(2 * one)
    shown = frame(7)
    cache.put(0, frame(0))
    cache.put(1, shown)              # e.g. the frame on screen
    cache.put(2, frame(2))           # evicts 0 and 1 (room for the spare): 1 is the spare now,
    assert cache.spare_bytes == one and 1 not in cache and 0 not in cache    # `shown` holds it
    assert cache.take_buffer((100, 100, 3)) is None
    assert int(shown[0, 0, 0]) == 7


def test_a_frame_as_big_as_the_bound_is_kept_rather_than_the_spare():
    cache = FrameCache(frame(0).nbytes)
    cache.put(0, frame(0))
    cache.put(1, frame(1))
    assert 1 in cache and len(cache) == 1 and cache.spare_bytes == 0


def test_frames_decoded_into_recycled_buffers_are_the_right_frames(video_dir):
    path = video_dir / "mmaction2__demo.mp4"
    with open_video(path) as plain:
        expected = {i: plain.frame(i).copy() for i in (0, 5, 40, 41, 150, 279, 3)}
    assert return_big_allocations_to_the_os() in (True, False)
    with open_video(path, cache_bytes=3 * 340 * 256 * 3) as small:    # 2 frames + the spare
        assert small.backend == "decord"
        refs = []
        for i, want in list(expected.items()) + list(reversed(expected.items())):
            got = small.frame(i)
            np.testing.assert_array_equal(got, want)
            refs.append(weakref.ref(got))
            del got
        cache = small.cache
        assert cache.nbytes + cache.spare_bytes <= cache.max_bytes
        alive = [r() for r in refs if r() is not None]
        assert len({id(a) for a in alive}) < len(alive)     # one buffer served several decodes
