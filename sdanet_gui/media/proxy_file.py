"""The scrubbing proxy's file: a small, short-GOP copy of a video that decodes any frame at once.

Why it exists: jumping to a frame of a 1080p H.264 video decodes from its keyframe, often a
second or more of 1080p pictures (80-150 ms); the proxy holds the same frames at a small size
(fits `PROXY_BOX`) with a keyframe every `GOP` frames, so any one of them decodes in about a
millisecond (benchmarks/media.py, proxy). Editors call this a proxy.

Frame-exact by construction: the writer decodes the source in order and gives proxy frame i the
picture the reader shows as frame i (by the probe's timestamps; by output order for MPEG-4
packed B-frames, as pyav_backend.py does), so a proxy never needs a seek that could land on the
wrong picture. Frames that do not decode (a damaged file) are marked missing, never guessed.
Pixels are kept in the coded orientation; `ProxyFile.frame` turns them as the reader does.

File layout (little-endian), version 1:
    b"SDPROXY1"                      magic
    packets                          encoded pictures, decode order = frame order (no B-frames)
    frame_packet   int32  [N]        packet of frame i, -1 when the source frame did not decode
    packet_offset  int64  [P + 1]    byte offsets of the packets (the last: end of the packets)
    packet_key     uint8  [P]        1 for a keyframe (decoding may start there)
    packet_crc     uint32 [P]        CRC-32 of each packet, checked on every read
    meta           JSON              format, version, fingerprint, sizes, codec, extradata, ...
    meta_len u64, index_offset u64, b"SDPXEND1"
A file whose trailer, index or meta does not add up, or that belongs to another file or size, is
rejected (`ProxyInvalid`) and rebuilt; a packet whose CRC does not match raises `ProxyDamaged`.

Never imports Qt; a ProxyFile is not thread-safe (the frame server's proxy thread owns one).
"""

from __future__ import annotations

import json
import logging
import os
import struct
import time
import zlib
from fractions import Fraction
from pathlib import Path
from typing import Callable

import numpy as np

from .display_decoder import fit_size
from .probe import VideoInfo, open_container, stream_by_index
from .pyav_backend import rotate

log = logging.getLogger(__name__)

FORMAT_NAME = "sdanet-proxy"
FORMAT_VERSION = 1
MAGIC = b"SDPROXY1"
END_MAGIC = b"SDPXEND1"
TRAILER = struct.Struct("<QQ8s")
PROXY_BOX = (640, 360)     # the player's default view: a proxy frame fits it
GOP = 8                    # a keyframe every 8 frames: at most 8 small decodes per frame
CRF = 28                   # x264 quality: ~5 kB per 640x360 frame; 0 is lossless (tests)
INTERPOLATION = "AREA"       # as display_decoder.py: no aliasing, so the full frame that
                             # replaces a proxy frame looks the same, only sharper


class ProxyInvalid(Exception):
    """The file is not a complete proxy of this video (partial, foreign, stale, other format)."""


class ProxyDamaged(Exception):
    """A packet read back does not match its checksum or does not decode."""


class ProxyFrame(np.ndarray):
    """An RGB uint8 [h, w, 3] frame from the proxy: smaller than the video, shown while
    scrubbing until the full frame arrives. A plain ndarray otherwise."""


def is_proxy(frame) -> bool:
    """True for a frame that came from the proxy (lower resolution, replaced when at rest)."""
    return isinstance(frame, ProxyFrame)


def proxy_size(info: VideoInfo, box: tuple[int, int] = PROXY_BOX) -> tuple[int, int] | None:
    """(w, h) in CODED orientation of the proxy's pictures (even, for 4:2:0), or None when the
    video already fits in `box` (as displayed): then decoding it is as cheap as a proxy."""
    fit = fit_size(info.width, info.height, box)
    if fit is None:
        return None
    w, h = fit if info.rotation not in (90, 270) else (fit[1], fit[0])
    return max(2, w // 2 * 2), max(2, h // 2 * 2)


def _encoder(crf: int) -> tuple[str, str, dict]:
    """(encoder, decoder, options): H.264 short GOP without B-frames by x264 (fast to decode: no
    CABAC, no deblocking), or MJPEG (every frame a keyframe, ~3x the bytes) without x264."""
    import av

    return ("libx264", "h264", {"preset": "ultrafast", "tune": "zerolatency", "crf": str(crf), "g": str(GOP),
                        "keyint_min": str(GOP), "sc_threshold": "0", "bf": "0",
                        "flags": "+global_header"}) \
        if "libx264" in av.codecs_available else ("mjpeg", "mjpeg", {"flags": "+qscale+global_header",
                                                             "global_quality": str(4 * 118)})


def write_proxy(info: VideoInfo, out: str | os.PathLike, fingerprint: str,
                box: tuple[int, int] = PROXY_BOX, threads: int = 0,
                keep_going: Callable[[], bool] = lambda: True, crf: int = CRF) -> dict:
    """Decode `info`'s video once and write its proxy to `out` (not atomically: the caller
    renames). Returns the meta written. `keep_going()` is asked every frame; False stops with
    an exception (the file is then incomplete and must be removed by the caller)."""
    import av
    from av.video.reformatter import VideoReformatter

    size = proxy_size(info, box)
    if size is None:
        raise ValueError(f"{info.path}: fits in {box}, no proxy needed")
    codec, decoder, options = _encoder(crf)
    enc = av.CodecContext.create(codec, "w")
    enc.width, enc.height = size
    enc.pix_fmt = "yuv420p" if codec != "mjpeg" else "yuvj420p"
    enc.time_base = Fraction(1, 1000)
    enc.thread_count = 1
    enc.options = options
    n = info.frame_count
    frame_packet = np.full(n, -1, dtype=np.int32)
    offsets, keys, crcs = [], [], []
    index_of = {int(p): i for i, p in enumerate(info.pts)}
    reformatter = VideoReformatter()
    t0, cpu0 = time.perf_counter(), time.process_time()
    container = open_container(info.path)
    try:
        stream = stream_by_index(container, info.stream_index)
        stream.thread_type = "AUTO"
        stream.thread_count = threads
        with open(out, "wb") as fh:
            fh.write(MAGIC)

            def put(packets) -> None:
                for pkt in packets:
                    data = bytes(pkt)
                    frame_packet[int(pkt.pts)] = len(offsets)
                    offsets.append(fh.tell())
                    keys.append(1 if pkt.is_keyframe else 0)
                    crcs.append(zlib.crc32(data))
                    fh.write(data)

            last, out_count = -1, 0
            try:
                for frame in container.decode(stream):
                    if not keep_going():
                        raise InterruptedError("stopped")
                    if info.packed_b_frames:
                        i, out_count = out_count, out_count + 1
                    else:
                        i = index_of.get(int(frame.pts)) if frame.pts is not None else None
                    if i is None or i <= last or i >= n:
                        continue
                    last = i
                    small = reformatter.reformat(frame, width=size[0], height=size[1],
                                                 format=enc.pix_fmt, interpolation=INTERPOLATION)
                    small.pts, small.time_base = i, enc.time_base
                    put(enc.encode(small))
            except av.error.FFmpegError as exc:     # damaged file: keep the frames before it
                log.info("%s: proxy stops at frame %d (%s)", info.path, last + 1, exc)
            put(enc.encode(None))
            meta = {"format": FORMAT_NAME, "version": FORMAT_VERSION, "fingerprint": fingerprint,
                    "frame_count": n, "box": list(box), "width": size[0], "height": size[1],
                    "rotation": info.rotation, "codec": decoder, "encoder": codec,
                    "extradata": (enc.extradata or b"").hex(), "packets": len(offsets),
                    "frames_missing": int((frame_packet < 0).sum()),
                    "build_s": round(time.perf_counter() - t0, 3),
                    "build_cpu_s": round(time.process_time() - cpu0, 3)}
            index_offset = fh.tell()
            offsets.append(index_offset)
            fh.write(frame_packet.astype("<i4").tobytes())
            fh.write(np.asarray(offsets, dtype="<i8").tobytes())
            fh.write(np.asarray(keys, dtype="u1").tobytes())
            fh.write(np.asarray(crcs, dtype="<u4").tobytes())
            blob = json.dumps(meta).encode()
            fh.write(blob)
            fh.write(TRAILER.pack(len(blob), index_offset, END_MAGIC))
            fh.flush()
            os.fsync(fh.fileno())
    finally:
        container.close()
    return meta


class ProxyFile:
    """Frames of one proxy file by the video's frame index. `open` validates; `frame(i)`
    decodes (continuing forward within a GOP when it can)."""

    def __init__(self, path: Path, meta: dict, frame_packet, offsets, keys, crcs):
        import av

        self.path = path
        self.meta = meta
        self.rotation = int(meta["rotation"])
        self._frame_packet = frame_packet
        self._offsets = offsets
        self._key_packets = np.flatnonzero(keys)
        self._crcs = crcs
        self._fh = open(path, "rb")
        self._ctx = av.CodecContext.create(meta["codec"], "r")
        self._ctx.extradata = bytes.fromhex(meta["extradata"]) or None
        self._ctx.thread_count = 1
        self._ctx.options = {"flags": "+low_delay"}      # a picture out for every packet in
        self._decoded: int | None = None                 # last packet decoded in the current run
        self._last: tuple[int, ProxyFrame] | None = None
        self.nbytes = path.stat().st_size
        self.decoded = 0

    @classmethod
    def open(cls, path: str | os.PathLike, fingerprint: str | None = None,
             frame_count: int | None = None, box: tuple[int, int] | None = None) -> "ProxyFile":
        """Open and check a proxy file; ProxyInvalid (with the reason) unless it is a whole
        proxy of the video with this fingerprint and frame count, made for this box."""
        path = Path(path)
        try:
            meta, arrays = _read_index(path)
        except (OSError, ValueError, KeyError, TypeError, UnicodeDecodeError) as exc:
            raise ProxyInvalid(f"unreadable ({exc})") from exc
        expected = {"fingerprint": fingerprint, "frame_count": frame_count,
                    "box": None if box is None else list(box)}
        for key, want in expected.items():
            if want is not None and meta.get(key) != want:
                raise ProxyInvalid(f"made for another {key.replace('_', ' ')}")
        return cls(path, meta, *arrays)

    @property
    def frame_count(self) -> int:
        return len(self._frame_packet)

    def has(self, index: int) -> bool:
        return 0 <= index < self.frame_count and self._frame_packet[index] >= 0

    def frame(self, index: int) -> ProxyFrame | None:
        """RGB uint8 [h, w, 3] of frame `index` (rotated for display), None when the source frame
        did not decode. ProxyDamaged when the file's bytes are not what was written."""
        if not self.has(index):
            return None
        p = int(self._frame_packet[index])
        if self._last is not None and self._last[0] == p:
            return self._last[1]
        key = int(self._key_packets[np.searchsorted(self._key_packets, p, side="right") - 1])
        done = self._decoded
        if done is not None and key <= done < p:
            first = done + 1
        else:
            self._ctx.flush_buffers()
            first = key
        picture = None
        for q in range(first, p + 1):
            self._decoded = None
            picture = self._decode_packet(q)
            self._decoded = q
        if picture is None:
            raise ProxyDamaged(f"{self.path}: packet {p} gives no picture")
        rgb = rotate(picture.to_ndarray(format="rgb24"), self.rotation)
        out = np.ascontiguousarray(rgb).view(ProxyFrame)
        out.flags.writeable = False
        self._last = (p, out)
        return out

    def _decode_packet(self, q: int):
        import av

        a, b = int(self._offsets[q]), int(self._offsets[q + 1])
        self._fh.seek(a)
        data = self._fh.read(b - a)
        if len(data) != b - a or zlib.crc32(data) != int(self._crcs[q]):
            raise ProxyDamaged(f"{self.path}: packet {q} does not match its checksum")
        try:
            pictures = self._ctx.decode(av.Packet(data))
        except av.error.FFmpegError as exc:
            raise ProxyDamaged(f"{self.path}: packet {q} does not decode ({exc})") from exc
        self.decoded += 1
        return pictures[-1] if pictures else None

    def close(self) -> None:
        self._fh.close()
        self._last = None

    def __enter__(self) -> "ProxyFile":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def _read_index(path: Path):
    """(meta, (frame_packet, offsets, keys, crcs)) of a proxy file; ValueError when the file is
    not a whole proxy (a truncated or foreign file fails one of these checks)."""
    size = path.stat().st_size
    with open(path, "rb") as fh:
        if fh.read(len(MAGIC)) != MAGIC or size < len(MAGIC) + TRAILER.size:
            raise ValueError("not a proxy file")
        fh.seek(size - TRAILER.size)
        meta_len, index_offset, end = TRAILER.unpack(fh.read(TRAILER.size))
        if end != END_MAGIC or not len(MAGIC) <= index_offset <= size - TRAILER.size - meta_len:
            raise ValueError("no complete trailer")
        fh.seek(index_offset)
        index = fh.read(size - TRAILER.size - meta_len - index_offset)
        meta = json.loads(fh.read(meta_len))
    if meta.get("format") != FORMAT_NAME or meta.get("version") != FORMAT_VERSION:
        raise ValueError(f"format {meta.get('format')} v{meta.get('version')}")
    n, p = int(meta["frame_count"]), int(meta["packets"])
    if len(index) != 4 * n + 8 * (p + 1) + p + 4 * p:
        raise ValueError("index size does not match")
    frame_packet = np.frombuffer(index, "<i4", n, 0)
    offsets = np.frombuffer(index, "<i8", p + 1, 4 * n)
    keys = np.frombuffer(index, "u1", p, 4 * n + 8 * (p + 1))
    crcs = np.frombuffer(index, "<u4", p, 4 * n + 8 * (p + 1) + p)
    present = frame_packet[frame_packet >= 0]
    if p == 0 or offsets[0] != len(MAGIC) or offsets[-1] != index_offset or \
            np.any(np.diff(offsets) <= 0) or not keys[0] or \
            np.any(present >= p) or np.any(np.diff(present) <= 0) or np.any(frame_packet < -1):
        raise ValueError("index is inconsistent")
    return meta, (frame_packet, offsets, keys, crcs)
