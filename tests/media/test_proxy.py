"""The scrubbing proxy: the same frames as the reader, built once in the background and reused,
shown at once on a cache miss and replaced by the full frame; never trusted when damaged."""

from __future__ import annotations

import os
import shutil
import threading
import time

import numpy as np
import pytest

from sdanet_gui.media.frame_server import FrameServer
from sdanet_gui.media.probe import probe_video
from sdanet_gui.media.proxy import BUILDING, CANCELLED, NOT_NEEDED, READY, ProxyService, \
    folder_bytes, prune
from sdanet_gui.media.proxy_file import ProxyFile, ProxyInvalid, is_proxy, write_proxy
from sdanet_gui.media.reader import open_video

from .numbered_video import read_number, set_rotation, write_numbered_video

BOX = (160, 120)          # small videos, small proxies: the rule is the same at 1080p


def unrotate(frame: np.ndarray, clockwise: int) -> np.ndarray:
    return np.rot90(frame, k=clockwise // 90)


def proxy_of(video, tmp_path, box=BOX, crf=None) -> ProxyFile:
    out = tmp_path / f"{video.stem}.sdproxy"
    write_proxy(probe_video(video), out, "fp", box, **({} if crf is None else {"crf": crf}))
    return ProxyFile.open(out, "fp", box=box)


@pytest.mark.parametrize("kind", ["b-frames", "variable frame rate", "rotated 90", "rotated 270",
                                  "short gop"])
def test_proxy_frame_i_is_the_readers_frame_i(tmp_path, kind):
    video = tmp_path / "numbered.mp4"
    if kind == "variable frame rate":
        write_numbered_video(video, 60, frame_ms=[33, 50, 40, 67, 20])
    elif kind == "short gop":
        write_numbered_video(video, 60, gop=7, b_frames=3)
    else:
        write_numbered_video(video, 60)
    if kind.startswith("rotated"):
        set_rotation(video, int(kind.split()[1]))
    with open_video(video) as reader, proxy_of(video, tmp_path) as proxy:
        assert proxy.frame_count == reader.frame_count == 60
        rng = np.random.default_rng(0)
        order = list(range(60)) + [int(i) for i in rng.integers(0, 60, 40)]   # in order, then jumps
        for i in order:
            small, full = proxy.frame(i), reader.frame(i)
            assert is_proxy(small) and not is_proxy(full)
            assert read_number(unrotate(small, reader.rotation)) == i
            assert read_number(unrotate(full, reader.rotation)) == i
            # displayed the same way round as the reader's frame, fitting the box
            assert (small.shape[1] > small.shape[0]) == (full.shape[1] > full.shape[0])
            assert small.shape[0] <= BOX[1] and small.shape[1] <= BOX[0]


@pytest.mark.parametrize("name", [
    "mmaction2__test.avi",                   # DivX-style packed B-frames: decoder output order
    "moviepy__chaplin.mp4", "video_features__v_ZNVhz7ctTq0.mp4", "sleap__dance.mp4",
    "video_features__v_GGSY1Qvo990.mp4", "decord__corrupted.mp4", "decord__flipping_a_pancake.mkv",
    "moviepy__big_buck_bunny_432_433.webm", "torchcodec__h264_10bits.mp4",
    "torchcodec__h265_video.mp4"])
def test_sample_video_proxy_frames_look_like_the_readers_same_frames(video_dir, tmp_path, name):
    """Real files (B-frames, packed B-frames, several GOPs, portrait, damage, Matroska, VP8,
    10-bit, HEVC), with a lossless proxy (crf 0) so that only the scaling differs, compared in
    luma. Real videos repeat frames, so the check is: proxy frame i is closer to the reader's
    frame i than to every reader frame within 3 frames of it that clearly differs from frame i
    (by more than 3x the proxy's typical error)."""
    video = video_dir / name
    with open_video(video) as reader, proxy_of(video, tmp_path, box=(96, 96), crf=0) as proxy:
        n = reader.frame_count
        assert proxy.frame_count == n and all(proxy.has(i) for i in range(n))
        h, w = proxy.frame(0).shape[:2]
        import av

        def luma(rgb, shrink=False):
            if shrink:
                rgb = av.VideoFrame.from_ndarray(np.ascontiguousarray(rgb), format="rgb24").reformat(
                    width=w, height=h, interpolation="AREA").to_ndarray(format="rgb24")
            return rgb.astype(np.float64) @ np.array([0.299, 0.587, 0.114])

        full = [luma(reader.frame(i), shrink=True) for i in range(n)]
        small = [luma(proxy.frame(i)) for i in range(n)]
        noise = np.median([np.abs(small[i] - full[i]).mean() for i in range(n)])
        pairs = 0
        for i in range(n):
            mine = np.abs(small[i] - full[i]).mean()
            for j in range(max(0, i - 3), min(n, i + 4)):
                if j != i and np.abs(full[i] - full[j]).mean() > 3 * noise:
                    pairs += 1
                    assert mine < np.abs(small[i] - full[j]).mean(), (i, j)
        assert pairs >= n // 2, f"only {pairs} pairs of clearly different frames to compare"


def test_a_video_that_fits_the_box_gets_no_proxy(tmp_path):
    video = write_numbered_video(tmp_path / "small.mp4", 10, size=(160, 120))
    service = ProxyService(probe_video(video), tmp_path / "proxies", lambda i, f: None, box=BOX)
    assert service.wait_settled(30)
    assert service.state == NOT_NEEDED
    assert folder_bytes(tmp_path / "proxies") == 0


def built(video, folder) -> ProxyService:
    service = ProxyService(probe_video(video), folder, lambda i, f: None, box=BOX)
    assert service.wait_settled(120)
    assert service.state == READY, service.reason
    return service


@pytest.mark.timeout(240)
def test_the_proxy_is_built_once_then_reused_even_after_the_video_moves(tmp_path):
    video = write_numbered_video(tmp_path / "a.mp4", 40)
    folder = tmp_path / "proxies"
    first = built(video, folder)
    first.close()
    assert first.build_s is not None and first.nbytes > 0
    assert folder_bytes(folder) == first.nbytes == first.path.stat().st_size
    stamp = first.path.stat().st_ino
    moved = tmp_path / "elsewhere" / "renamed.mp4"
    moved.parent.mkdir()
    shutil.move(video, moved)
    again = built(moved, folder)
    again.close()
    assert again.build_s is None                       # found, not built
    assert again.path == first.path and again.path.stat().st_ino == stamp
    assert not list(folder.glob(".*.tmp"))


@pytest.mark.timeout(240)
@pytest.mark.parametrize("damage", ["truncated", "garbage", "packet bytes"])
def test_a_damaged_proxy_is_ignored_and_built_again(tmp_path, damage, wait_for):
    video = write_numbered_video(tmp_path / "a.mp4", 40, gop=1000)
    folder = tmp_path / "proxies"
    service = built(video, folder)
    service.close()
    path = service.path
    data = bytearray(path.read_bytes())
    if damage == "truncated":
        path.write_bytes(bytes(data[: len(data) // 2]))
    elif damage == "garbage":
        path.write_bytes(os.urandom(len(data)))
    else:
        data[200:260] = bytes(60)                        # inside the first packets, trailer intact
        path.write_bytes(bytes(data))
    if damage != "packet bytes":
        with pytest.raises(ProxyInvalid):
            ProxyFile.open(path, box=BOX)
    got = []
    service = ProxyService(probe_video(video), folder, lambda i, f: got.append((i, f)), box=BOX)
    try:
        assert service.wait_settled(120) and service.state == READY
        service.want(3)                                  # decoding it reads the damaged packets
        assert wait_for(lambda: got, 120)
        assert service.state == READY
        assert got[-1][0] == 3 and read_number(got[-1][1]) == 3
        assert service.proxy is not None
        assert all(read_number(service.proxy.frame(i)) == i for i in range(40))
    finally:
        service.close()
    assert service.build_s is not None                  # it was built again


def test_closing_the_video_cancels_the_build_and_leaves_nothing(tmp_path, wait_for):
    video = write_numbered_video(tmp_path / "a.mp4", 200)
    folder = tmp_path / "proxies"
    service = ProxyService(probe_video(video), folder, lambda i, f: None, box=BOX)
    assert wait_for(lambda: service.state == BUILDING and service.child is not None, 30)
    child = service.child
    service.close()
    assert child.poll() is not None                     # the child process is gone
    assert service.state == CANCELLED
    assert list(folder.iterdir()) == []                 # no proxy, no temporary file


@pytest.mark.timeout(120)
def test_frame_server_shows_the_proxy_at_once_then_the_full_frame_at_rest(tmp_path, wait_for):
    video = write_numbered_video(tmp_path / "a.mp4", 60)
    got: list = []
    lock = threading.Lock()

    def on_frame(i, frame):
        with lock:
            got.append((i, frame))

    with open_video(video) as reader, FrameServer(reader, on_frame, proxy_dir=tmp_path / "proxies",
                                                  proxy_box=BOX, paused_read_ahead_s=0,
                                                  paused_read_back_s=0) as server:
        assert server.proxy.wait_settled(120) and server.proxy_state == READY
        assert server.proxy_bytes == server.proxy.path.stat().st_size > 0
        with reader.decode_lock:                               # the full decode is slow (busy here)
            assert server.show(47) is None               # a miss: the proxy answers
            assert wait_for(lambda: got, 10)
            time.sleep(0.1)
            with lock:
                assert [(i, is_proxy(f)) for i, f in got] == [(47, True)]
            assert got[0][1].shape[:2] == (120, 160) and read_number(got[0][1]) == 47
        assert wait_for(lambda: len(got) == 2, 30)      # at rest: the full frame replaces it
        assert got[1][0] == 47 and not is_proxy(got[1][1])
        assert got[1][1].shape[:2] == (240, 320) and read_number(got[1][1]) == 47

        got.clear()                                      # a cached frame: no proxy at all
        assert server.show(47) is not None
        server.request(47)
        assert wait_for(lambda: got, 10)
        time.sleep(0.1)
        assert not any(is_proxy(f) for _, f in got)

        got.clear()                                      # playing: full frames only
        server.set_playing(True)
        with reader.decode_lock:
            server.request(12)
            time.sleep(0.3)
            assert got == []
        assert wait_for(lambda: any(i == 12 for i, _ in got), 30)
        assert not any(is_proxy(f) for _, f in got)


def test_closing_the_frame_server_cancels_its_proxy_build(tmp_path, wait_for):
    video = write_numbered_video(tmp_path / "a.mp4", 200)
    with open_video(video) as reader:
        server = FrameServer(reader, proxy_dir=tmp_path / "proxies", proxy_box=BOX)
        assert wait_for(lambda: server.proxy_state == BUILDING and server.proxy.child, 30)
        server.close()
        assert server.proxy_state == CANCELLED
        assert list((tmp_path / "proxies").iterdir()) == []


def test_prune_removes_the_least_recently_used_and_stale_temporary_files(tmp_path):
    folder = tmp_path / "proxies"
    folder.mkdir()
    now = time.time()
    files = []
    for k, age in enumerate((300, 200, 100)):
        p = folder / f"{k:032x}-1000.sdproxy"
        p.write_bytes(bytes(1000))
        os.utime(p, (now - age, now - age))
        files.append(p)
    stale = folder / ".x-1.sdproxy.abc.tmp"
    fresh = folder / ".y-1.sdproxy.def.tmp"
    for p, age in ((stale, 7200), (fresh, 10)):
        p.write_bytes(b"partial")
        os.utime(p, (now - age, now - age))
    gone = prune(folder, max_bytes=1500, keep=files[0])
    assert set(gone) == {files[1], files[2], stale}
    assert files[0].exists() and fresh.exists()
    assert folder_bytes(folder) == 1000
