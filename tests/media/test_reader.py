"""Reading every sample video: counts, timestamps, sizes and pixels agree with a plain PyAV decode."""

from __future__ import annotations

import shutil

import numpy as np
import pytest

from sdanet_gui.errors import UserError
from sdanet_gui.media.reader import open_video

from .conftest import ALL_VIDEOS, pyav_reference

DECORD_CANNOT = {"torchcodec__av1_video.mkv", "decord__corrupted.mp4"}
DECORD_GETS_WRONG = {"mmaction2__test.avi"}      # XviD with packed B-frames


@pytest.mark.timeout(60)
@pytest.mark.parametrize("name", ALL_VIDEOS)
def test_every_sample_video_matches_a_pyav_decode(video_dir, name):
    path = video_dir / name
    ref = pyav_reference(path, keep=(0, 1, -1))
    with open_video(path) as reader:
        assert reader.frame_count == len(ref.times)
        np.testing.assert_allclose(reader.clock.timestamps, ref.times, atol=1e-6)
        assert reader.clock.duration > reader.clock.timestamps[-1]
        assert reader.rotation == ref.rotation_cw
        assert reader.backend == ("pyav" if name in DECORD_CANNOT | DECORD_GETS_WRONG else "decord")
        for i, expected in ref.frames.items():
            got = reader.frame(i)
            assert got.shape == (reader.height, reader.width, 3) == expected.shape
            assert got.dtype == np.uint8
            # decord converts 10-bit sources with slightly different rounding than swscale
            assert np.abs(got.astype(np.int16) - expected).mean() < 4.0, f"frame {i} differs"


def test_packed_b_frames_are_read_in_the_order_the_decoder_shows_them(video_dir):
    """XviD packed B-frames: packet timestamps do not follow the pictures. decord returned a stale
    frame for the last one in about 1 of 4 runs; here any access order gives display order."""
    import av

    path = video_dir / "mmaction2__test.avi"
    with av.open(str(path)) as container:
        shown = [f.to_ndarray(format="rgb24") for f in container.decode(video=0)]
    with open_video(path, cache_bytes=1) as reader:
        assert reader.info.packed_b_frames
        assert reader.backend == "pyav" and "packed B-frames" in reader.fallback_reason
        assert reader.frame_count == len(shown)
        order = np.random.default_rng(0).permutation(len(shown))[:40].tolist()
        for i in order + [len(shown) - 1, 0, len(shown) - 1, 3, 2]:
            assert np.array_equal(reader.frame(i), shown[i]), f"frame {i}"
    # the decoder's order is the real one: neighbouring frames differ less than in timestamp order
    labels = []
    with av.open(str(path)) as container:
        labels = [f.pts for f in container.decode(video=0)]
    assert labels != sorted(labels)
    by_label = [shown[k] for k in np.argsort(labels, kind="stable")]

    def roughness(frames):
        return np.mean([np.abs(a.astype(np.int16) - b).mean() for a, b in zip(frames, frames[1:])])

    assert roughness(shown) < 0.8 * roughness(by_label)


def test_unpacked_mpeg4_with_b_frames_stays_on_decord(tmp_path):
    """FFmpeg's own MPEG-4 encoder stores one picture per packet: not packed, decord reads it."""
    import av

    path = tmp_path / "unpacked.avi"
    with av.open(str(path), "w") as out:
        stream = out.add_stream("mpeg4", rate=25)
        stream.width, stream.height, stream.pix_fmt = 64, 48, "yuv420p"
        stream.codec_context.max_b_frames = 2
        for k in range(30):
            img = np.full((48, 64, 3), 8 * k, dtype=np.uint8)
            for packet in stream.encode(av.VideoFrame.from_ndarray(img, format="rgb24")):
                out.mux(packet)
        for packet in stream.encode():
            out.mux(packet)
    with open_video(path) as reader:
        assert not reader.info.packed_b_frames
        assert reader.backend == "decord" and reader.frame_count == 30
        assert abs(int(reader.frame(29)[0, 0, 0]) - 8 * 29) < 6


@pytest.mark.parametrize("name, size, rotation", [
    ("decord__video_0.mov", (568, 320), 0), ("decord__video_90.mov", (320, 568), 90),
    ("decord__video_180.mov", (568, 320), 180), ("decord__video_270.mov", (320, 568), 270)])
def test_rotated_videos_have_display_size(video_dir, name, size, rotation):
    with open_video(video_dir / name) as reader:
        assert (reader.width, reader.height) == size
        assert reader.rotation == rotation
        assert reader.frame(2).shape == (size[1], size[0], 3)


@pytest.mark.timeout(30)
def test_corrupt_file_decodes_up_to_the_damage_and_says_where(video_dir):
    path = video_dir / "decord__corrupted.mp4"
    with open_video(path) as reader:
        assert reader.backend == "pyav"
        assert reader.frame_count == 28
        assert "28 of 50" in reader.warning and "2.80 s" in reader.warning
        last = reader.frame(27)
        assert last.shape == (720, 1280, 3)
        with pytest.raises(IndexError):
            reader.frame(28)


def test_av1_falls_back_to_pyav_and_says_why(video_dir):
    with open_video(video_dir / "torchcodec__av1_video.mkv") as reader:
        assert reader.backend == "pyav"
        assert reader.fallback_reason.startswith("decord:")
        assert reader.frame_count == 125


@pytest.mark.parametrize("name", ["mmaction2__rawvideo_part_0.mp4", "decord__unordered.mov",
                                  "video_features__v_GGSY1Qvo990.mp4"])
def test_pyav_backend_random_access_gives_the_same_frames_as_decord(video_dir, name):
    """B-frames and several keyframes: seeking back and forth in PyAV lands on the right frame."""
    path = video_dir / name
    with open_video(path) as fast, open_video(path, prefer="pyav") as fallback:
        assert fallback.backend == "pyav"
        n = fast.frame_count
        order = [n - 1, 0, n // 2, n // 2 + 1, 1, n - 2, n // 3]
        for i in order:
            diff = np.abs(fast.frame(i).astype(np.int16) - fallback.frame(i)).mean()
            assert diff < 1.0, f"frame {i}: mean difference {diff}"


def test_multi_stream_file_uses_the_video_stream(video_dir):
    """dance.mp4 and chaplin.mp4 carry audio too; the reader shows the video stream."""
    for name in ("sleap__dance.mp4", "moviepy__chaplin.mp4"):
        with open_video(video_dir / name) as reader:
            assert reader.info.codec == "h264"
            assert reader.frame(0).ndim == 3


def test_audio_only_file_is_refused(audio_only_file):
    with pytest.raises(UserError, match="audio only, no video stream") as err:
        open_video(audio_only_file)
    assert str(audio_only_file) in str(err.value)


def test_missing_folder_empty_and_non_video_files_give_clear_errors(tmp_path):
    with pytest.raises(UserError, match="video file not found"):
        open_video(tmp_path / "nope.mp4")
    with pytest.raises(UserError, match="is a folder"):
        open_video(tmp_path)
    empty = tmp_path / "empty.mp4"
    empty.write_bytes(b"")
    with pytest.raises(UserError, match="empty"):
        open_video(empty)
    text = tmp_path / "notes.mp4"
    text.write_text("these are my notes, not a video\n" * 50)
    with pytest.raises(UserError, match="not a video file that can be read") as err:
        open_video(text)
    assert str(text) in str(err.value)


@pytest.mark.timeout(30)
def test_truncated_download_is_cut_to_what_decodes(video_dir, tmp_path):
    """A download that stopped half way (index at the front): frames up to the cut, and a warning."""
    data = (video_dir / "sleap__dance.mp4").read_bytes()
    cut = tmp_path / "cut.mp4"
    cut.write_bytes(data[: len(data) // 2])
    ref = pyav_reference(cut, keep=(-1,))
    assert ref.error is not None and 0 < len(ref.times) < 450
    with open_video(cut) as reader:
        assert reader.backend == "pyav"
        assert reader.frame_count == len(ref.times)
        assert f"after frame {len(ref.times)} of 450" in reader.warning
        np.testing.assert_allclose(reader.clock.timestamps, ref.times, atol=1e-6)
        last = reader.frame(reader.frame_count - 1)
        assert np.abs(last.astype(np.int16) - ref.frames[len(ref.times) - 1]).mean() < 1.0


def test_header_only_mp4_without_index_is_refused_clearly(video_dir, tmp_path):
    """Half of a file whose index (moov) sits at the end: unreadable, and the message says so."""
    data = (video_dir / "mmaction2__demo.mp4").read_bytes()
    cut = tmp_path / "cut.mp4"
    cut.write_bytes(data[: len(data) // 2])
    with pytest.raises(UserError, match="not a video file that can be read") as err:
        open_video(cut)
    assert str(cut) in str(err.value)


def test_cache_stays_within_its_byte_bound(video_dir):
    path = video_dir / "mmaction2__demo.mp4"
    frame_bytes = 340 * 256 * 3
    bound = 5 * frame_bytes + 100
    with open_video(path, cache_bytes=bound) as reader:
        first = reader.frame(0).copy()
        for i in range(0, 60, 3):
            reader.frame(i)
            assert reader.cache.nbytes + reader.cache.spare_bytes <= bound
        assert len(reader.cache) == 4 and reader.cache.spare_bytes == frame_bytes  # + the spare
        assert reader.cached(0) is None          # evicted long ago
        assert reader.cached(57) is not None     # most recent
        np.testing.assert_array_equal(reader.frame(0), first)
        with pytest.raises(ValueError):
            reader.frame(57)[0, 0, 0] = 1        # cached frames are read-only


def test_frames_of_a_range_equal_single_frames(video_dir):
    with open_video(video_dir / "moviepy__chaplin.mp4", cache_bytes=0) as reader:
        batch = reader.frames(range(100, 110))
        assert batch.shape == (10, 360, 640, 3)
        for k, i in enumerate(range(100, 110)):
            np.testing.assert_array_equal(batch[k], reader.frame(i))
        picked = reader.frames([5, 3, 5])
        np.testing.assert_array_equal(picked[0], picked[2])


def test_closed_reader_refuses_to_decode(video_dir):
    reader = open_video(video_dir / "decord__video_0.mov", cache_bytes=0)
    reader.close()
    with pytest.raises(UserError, match="closed"):
        reader.frame(0)


def test_fingerprint_changes_when_the_file_changes_not_when_it_moves(video_dir, tmp_path):
    from sdanet_gui.media.fingerprint import fingerprint

    src = video_dir / "decord__video_0.mov"
    a = tmp_path / "a.mov"
    shutil.copy(src, a)
    fp = fingerprint(src)
    assert fingerprint(a) == fp
    moved = tmp_path / "sub" / "renamed.mov"
    moved.parent.mkdir()
    a.rename(moved)
    assert fingerprint(moved) == fp
    data = bytearray(moved.read_bytes())
    data[100] ^= 0xFF
    moved.write_bytes(bytes(data))
    assert fingerprint(moved) != fp
    with open(moved, "ab") as fh:
        fh.write(b"\0")
    assert fingerprint(moved) not in (fp,)
    big = video_dir / "video_features__v_ZNVhz7ctTq0.mp4"   # > 1 MiB: head and tail both count
    b = tmp_path / "b.mp4"
    data = bytearray(big.read_bytes())
    data[-10] ^= 0xFF
    b.write_bytes(bytes(data))
    assert fingerprint(b) != fingerprint(big)
    with pytest.raises(UserError, match="not found"):
        fingerprint(tmp_path / "gone.mp4")
