"""Procedural demo videos: visible "actions" that a small SDANet model can learn to localize.

Why generated content: the demo must work offline on a fresh install, with footage we may
redistribute, and with ground truth that is exact. Each action class is something a viewer sees at
once, so a user can judge the model's segments by eye:

  Flash  a yellow disc blinks on and off in place
  Slide  a red square slides across the frame
  Grow   a blue disc grows from a dot to a large circle
  Spin   a green bar rotates around its centre

Between actions the background is a slowly drifting texture with a grey distractor blob that
wanders the whole time, so "something moves" alone does not mean "action". Frames are rendered
with numpy and encoded as H.264 with PyAV. Nothing here imports Qt or torch.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .atomic import atomic_path

DEMO_CLASSES = ("Flash", "Slide", "Grow", "Spin")
DEMO_FPS = 25
DEMO_SIZE = (320, 240)  # width, height


@dataclass(frozen=True)
class DemoEvent:
    label: str
    start: float  # seconds
    end: float
    x: float  # centre, as a fraction of the width/height
    y: float
    direction: float  # +1 / -1: slide direction or spin sense


def plan_events(rng: np.random.Generator, duration: float, *, min_gap: float = 1.5,
                min_len: float = 1.2, max_len: float = 4.0) -> list[DemoEvent]:
    """Non-overlapping events of random classes, separated by background of at least `min_gap`."""
    events, t = [], rng.uniform(0.5, 3.0)
    while True:
        length = rng.uniform(min_len, max_len)
        if t + length > duration - 0.5:
            break
        label = DEMO_CLASSES[int(rng.integers(len(DEMO_CLASSES)))]
        events.append(DemoEvent(label, round(t, 2), round(t + length, 2), float(rng.uniform(0.25, 0.75)),
                                float(rng.uniform(0.3, 0.7)), float(rng.choice([-1.0, 1.0]))))
        t += length + rng.uniform(min_gap, 3 * min_gap)
    return events


class _Canvas:
    """Coordinate grids shared by every frame of one video."""

    def __init__(self, width: int, height: int):
        self.w, self.h = width, height
        self.yy, self.xx = np.mgrid[0:height, 0:width].astype(np.float32)

    def disc(self, frame, cx, cy, r, colour):
        m = (self.xx - cx) ** 2 + (self.yy - cy) ** 2 <= r * r
        frame[m] = colour

    def rect(self, frame, cx, cy, half_w, half_h, colour, angle=0.0):
        dx, dy = self.xx - cx, self.yy - cy
        c, s = math.cos(angle), math.sin(angle)
        u, v = dx * c + dy * s, -dx * s + dy * c
        frame[(np.abs(u) <= half_w) & (np.abs(v) <= half_h)] = colour


def render_frames(events: list[DemoEvent], duration: float, *, fps: int = DEMO_FPS,
                  size: tuple[int, int] = DEMO_SIZE, seed: int = 0):
    """Yield RGB uint8 frames [H, W, 3] of the whole video."""
    w, h = size
    rng = np.random.default_rng(seed)
    canvas = _Canvas(w, h)
    texture = rng.normal(0, 1, (h // 8 + 2, w // 8 + 2)).astype(np.float32)
    base_level = rng.uniform(40, 70)
    blob_phase = rng.uniform(0, 2 * math.pi, 2)
    for i in range(int(round(duration * fps))):
        t = i / fps
        # drifting texture background, upsampled blockwise
        shift = int(t * 4) % 8
        tex = np.kron(texture, np.ones((8, 8), np.float32))[shift:shift + h, shift:shift + w]
        grey = np.clip(base_level + 12 * tex + 6 * math.sin(0.3 * t), 0, 255)
        frame = np.repeat(grey[:, :, None], 3, axis=2).astype(np.uint8)
        # distractor: a grey blob wandering all the time
        bx = w * (0.5 + 0.4 * math.sin(0.23 * t + blob_phase[0]))
        by = h * (0.5 + 0.35 * math.sin(0.31 * t + blob_phase[1]))
        canvas.disc(frame, bx, by, 0.07 * h, (150, 150, 150))
        for ev in events:
            if not (ev.start <= t < ev.end):
                continue
            p = (t - ev.start) / (ev.end - ev.start)
            cx, cy = ev.x * w, ev.y * h
            if ev.label == "Flash":
                if int((t - ev.start) * 6) % 2 == 0:
                    canvas.disc(frame, cx, cy, 0.12 * h, (250, 220, 40))
            elif ev.label == "Slide":
                x = w * (0.1 + 0.8 * (p if ev.direction > 0 else 1 - p))
                canvas.rect(frame, x, cy, 0.09 * h, 0.09 * h, (220, 40, 40))
            elif ev.label == "Grow":
                canvas.disc(frame, cx, cy, 0.02 * h + 0.25 * h * p, (40, 90, 230))
            elif ev.label == "Spin":
                canvas.rect(frame, cx, cy, 0.22 * h, 0.035 * h, (40, 200, 80),
                            angle=ev.direction * 2 * math.pi * 0.8 * (t - ev.start))
        yield frame


def write_video(path: str | Path, frames, *, fps: int = DEMO_FPS, size: tuple[int, int] = DEMO_SIZE,
                crf: int = 23, keyframe_interval_s: float = 2.0) -> Path:
    """Encode RGB frames as H.264 (yuv420p) in MP4, atomically."""
    import av

    path = Path(path)
    with atomic_path(path) as tmp:
        with av.open(str(tmp), mode="w", format="mp4") as container:
            stream = container.add_stream("libx264", rate=fps)
            stream.width, stream.height = size
            stream.pix_fmt = "yuv420p"
            stream.options = {"crf": str(crf), "preset": "veryfast",
                              "g": str(int(round(keyframe_interval_s * fps)))}
            for arr in frames:
                for packet in stream.encode(av.VideoFrame.from_ndarray(arr, format="rgb24")):
                    container.mux(packet)
            for packet in stream.encode():
                container.mux(packet)
    return path


def make_demo_video(path: str | Path, *, duration: float, seed: int) -> list[DemoEvent]:
    """Plan events, render and encode one demo video; returns its ground truth."""
    rng = np.random.default_rng(seed)
    events = plan_events(rng, duration)
    write_video(path, render_frames(events, duration, seed=seed))
    return events
