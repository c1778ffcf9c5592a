"""Videos whose every frame shows its own index as a barcode, written with PyAV: a frame read
back names itself, so frame-index exactness is checked exactly, at any size or rotation."""

from __future__ import annotations

import struct
from fractions import Fraction
from pathlib import Path

import numpy as np

BITS = 8


def numbered_frame(i: int, width: int, height: int) -> np.ndarray:
    """RGB [height, width, 3]: a moving gradient, and across the middle BITS blocks, white for a
    set bit of `i` (least significant first) and black for a clear one."""
    yy, xx = np.mgrid[0:height, 0:width]
    img = np.stack([(xx + 7 * i) % 200 + 20, (yy + 3 * i) % 200 + 20,
                    np.full_like(xx, 90)], -1).astype(np.uint8)
    block = width // BITS
    top, bottom = height // 3, 2 * height // 3
    for b in range(BITS):
        img[top:bottom, b * block:(b + 1) * block] = 255 if (i >> b) & 1 else 0
    return img


def read_number(frame: np.ndarray) -> int:
    """The index a numbered frame shows (as displayed, before any rotation was applied)."""
    h, w, _ = frame.shape
    block = w / BITS
    value = 0
    for b in range(BITS):
        x0, x1 = int((b + 0.3) * block), int((b + 0.7) * block)
        patch = frame[int(h * 0.4):int(h * 0.6), x0:x1].astype(np.float64)
        if patch.mean() > 128:
            value |= 1 << b
    return value


def write_numbered_video(path: Path, frames: int, size: tuple[int, int] = (320, 240), *,
                         gop: int = 250, b_frames: int = 2, frame_ms=None) -> Path:
    """H.264 with `b_frames` B-frames and a keyframe every `gop` frames. `frame_ms`: a list of
    frame durations in ms, cycled (variable frame rate); default 40 ms (25 fps)."""
    import av

    width, height = size
    with av.open(str(path), "w") as container:
        stream = container.add_stream("libx264", rate=25)
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        stream.codec_context.time_base = stream.time_base = Fraction(1, 1000)
        stream.options = {"preset": "ultrafast", "bf": str(b_frames), "g": str(gop),
                          "keyint_min": str(gop), "sc_threshold": "0", "crf": "18"}
        t = 0
        for i in range(frames):
            frame = av.VideoFrame.from_ndarray(numbered_frame(i, width, height), format="rgb24")
            frame.pts, frame.time_base = t, Fraction(1, 1000)
            t += 40 if frame_ms is None else frame_ms[i % len(frame_ms)]
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode(None):
            container.mux(packet)
    return path


def set_rotation(path: Path, clockwise: int) -> Path:
    """Write a display rotation into an MP4's track header, as phones do (tkhd matrix)."""
    data = bytearray(path.read_bytes())
    at = data.index(b"tkhd")
    version = data[at + 4]
    matrix_at = at + 4 + (52 if version == 1 else 40)
    one, minus_one = 0x10000, -0x10000 & 0xFFFFFFFF
    a, b, c, d = {90: (0, one, minus_one, 0), 180: (minus_one, 0, 0, minus_one),
                  270: (0, minus_one, one, 0)}[clockwise]
    data[matrix_at:matrix_at + 16] = struct.pack(">IIII", a, b, 0, c)
    data[matrix_at + 16:matrix_at + 20] = struct.pack(">I", d)
    path.write_bytes(bytes(data))
    return path
