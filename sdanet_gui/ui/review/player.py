"""The player: a frame view that keeps the aspect ratio, the Qt side of the media layer's
FrameServer, and playback timed by a monotonic clock.

Threads: `FrameServer` decodes in its own reader thread and calls `on_frame` THERE; `FrameBridge`
re-emits that as a Qt signal over a queued connection, so frames arrive in the UI thread as
events and the UI never waits on a decode. The UI thread only asks (`request`, non-blocking) and
paints what arrives (`cached` is used for an instant hit).

Display size: the controller tells the FrameServer how many device pixels the view has, so a
video larger than the view is decoded straight to the size it is shown at (cheaper, and many
more frames fit the cache for scrubbing); `show` (not just `cached`) keeps the server's
read-ahead centred on the frame on screen.

Playback: the position is `anchor_seconds + (monotonic_now - anchor_time) * speed`, evaluated on
each timer tick and converted to a frame with the video's FrameClock. Ticks can be late or
missed; the position cannot drift, because it is never accumulated tick by tick.

This module never decodes and never owns project data.
"""

from __future__ import annotations

import math
import time

import numpy as np
from PySide6.QtCore import QObject, QRectF, QSize, Qt, QTimer, Signal, Slot
from PySide6.QtGui import QColor, QImage, QPainter
from PySide6.QtWidgets import QSizePolicy, QWidget

SPEEDS = (0.1, 0.25, 0.5, 0.75, 1.0, 1.25, 1.5, 2.0, 3.0, 4.0)
DISPLAY_SIZE_STEP = 64     # device pixels: decode sizes change in steps, not with every pixel
RESIZE_SETTLE_MS = 150     # a resize must rest this long before frames are decoded at its size


def image_from_rgb(frame: np.ndarray) -> QImage:
    """QImage over the array's memory (no copy); the caller keeps `frame` alive while it is used.

    frame: [H, W, 3] uint8 RGB with contiguous rows of pixels (any row stride).
    """
    if frame.ndim != 3 or frame.shape[2] != 3 or frame.dtype != np.uint8:
        raise ValueError(f"expected an RGB uint8 [H, W, 3] frame, got {frame.dtype} {frame.shape}")
    if frame.strides[2] != 1 or frame.strides[1] != 3:
        frame = np.ascontiguousarray(frame)
    h, w, _ = frame.shape
    return QImage(frame.data, w, h, frame.strides[0], QImage.Format.Format_RGB888)


class FrameView(QWidget):
    """Paints the current frame scaled to fit, aspect ratio kept, black bars around it.

    Signal: size_changed(width, height) in device pixels, whenever the widget is resized."""

    size_changed = Signal(int, int)

    def __init__(self, parent=None):
        super().__init__(parent)
        self.setObjectName("frameView")
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)
        self.setMinimumSize(160, 90)
        self.setAttribute(Qt.WidgetAttribute.WA_OpaquePaintEvent, True)
        self._frame: np.ndarray | None = None
        self._image: QImage | None = None
        self.index: int | None = None
        self.paints = 0
        self.smooth = True  # smooth scaling when paused; nearest while playing (~5x cheaper)

    def set_frame(self, index: int, frame: np.ndarray) -> None:
        self._frame = frame  # keeps the buffer the QImage points into alive
        self._image = image_from_rgb(frame)
        self.index = int(index)
        self.update()

    def clear(self) -> None:
        self._frame = self._image = None
        self.index = None
        self.update()

    @property
    def frame(self) -> np.ndarray | None:
        return self._frame

    def image_rect(self) -> QRectF:
        """Where the frame is drawn inside the widget (aspect ratio kept, centred)."""
        if self._image is None:
            return QRectF()
        iw, ih = self._image.width(), self._image.height()
        scale = min(self.width() / iw, self.height() / ih)
        w, h = iw * scale, ih * scale
        return QRectF((self.width() - w) / 2, (self.height() - h) / 2, w, h)

    def sizeHint(self) -> QSize:  # noqa: N802
        return QSize(640, 360)

    def device_size(self) -> tuple[int, int]:
        """The widget's size in device pixels (what a frame needs to look sharp)."""
        dpr = self.devicePixelRatioF()
        return math.ceil(self.width() * dpr), math.ceil(self.height() * dpr)

    def resizeEvent(self, event):  # noqa: N802
        super().resizeEvent(event)
        self.size_changed.emit(*self.device_size())

    def paintEvent(self, event):  # noqa: N802
        p = QPainter(self)
        p.fillRect(self.rect(), QColor(0, 0, 0))
        if self._image is not None:
            p.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform, self.smooth)
            p.drawImage(self.image_rect(), self._image)
        else:
            p.setPen(QColor(160, 160, 160))
            p.drawText(self.rect(), Qt.AlignmentFlag.AlignCenter, "No video")
        p.end()
        self.paints += 1


class FrameBridge(QObject):
    """Carries frames from the reader thread to the UI thread as a queued signal."""

    frame_ready = Signal(int, object)
    frame_failed = Signal(int, str)

    def on_frame(self, index: int, frame: np.ndarray) -> None:  # reader thread
        self.frame_ready.emit(int(index), frame)

    def on_error(self, index: int, exc: BaseException) -> None:  # reader thread
        self.frame_failed.emit(int(index), str(exc) or type(exc).__name__)


class PlayerController(QObject):
    """Position, playback and speed of one open video; asks the FrameServer, shows what arrives.

    Signals: frame_shown(index) when a frame is painted; position_changed(index) when the target
    frame changes (seek/step/playback); playing_changed(bool); speed_changed(float);
    error(message).
    """

    frame_shown = Signal(int)
    position_changed = Signal(int)
    playing_changed = Signal(bool)
    speed_changed = Signal(float)
    error = Signal(str)

    def __init__(self, view: FrameView, parent=None, tick_ms: int = 5):
        super().__init__(parent)
        self.view = view
        self.reader = None
        self.server = None
        self.clock = None
        self.position = 0  # the frame the user asked for / playback is at
        self.speed = 1.0
        self.playing = False
        self._anchor: tuple[float, float] | None = None  # (monotonic time, video seconds)
        self.loop: tuple[int, int] | None = None  # frames [start, end) played over and over
        self._requested: int | None = None
        self.bridge = FrameBridge()
        self.bridge.frame_ready.connect(self._on_frame, Qt.ConnectionType.QueuedConnection)
        self.bridge.frame_failed.connect(self._on_failed, Qt.ConnectionType.QueuedConnection)
        self.timer = QTimer(self)
        self.timer.setTimerType(Qt.TimerType.PreciseTimer)
        self.timer.setInterval(tick_ms)
        self.timer.timeout.connect(self._tick)
        self._view_size: tuple[int, int] | None = None
        self._resize_settle = QTimer(self)
        self._resize_settle.setSingleShot(True)
        self._resize_settle.setInterval(RESIZE_SETTLE_MS)
        self._resize_settle.timeout.connect(self._apply_view_size)
        view.size_changed.connect(self._on_view_resized)

    # --- open / close -------------------------------------------------------------------------
    def set_reader(self, reader) -> None:
        """Show `reader` (media VideoReader); starts its FrameServer and shows frame 0."""
        from ...media.frame_server import FrameServer
        from ...media.proxy import default_folder

        self.close()
        self.reader = reader
        self.clock = reader.clock
        self._resize_settle.stop()
        self.server = FrameServer(reader, self.bridge.on_frame, on_error=self.bridge.on_error,
                                  display_size=self.display_box(*self.view.device_size()),
                                  proxy_dir=default_folder())
        self.position = 0
        self._requested = None
        self.seek_frame(0)

    def close(self) -> None:
        self.pause()
        if self.server is not None:
            self.server.close()
        self.server = self.reader = self.clock = None
        self.view.clear()

    @property
    def frame_count(self) -> int:
        return self.reader.frame_count if self.reader is not None else 0

    @property
    def duration(self) -> float:
        return float(self.clock.duration) if self.clock is not None else 0.0

    @property
    def shown_frame(self) -> int | None:
        return self.view.index

    def seconds(self, frame: int | None = None) -> float:
        if self.clock is None:
            return 0.0
        return float(self.clock.frame_to_seconds(self.position if frame is None else frame))

    # --- navigation -----------------------------------------------------------------------------
    def seek_frame(self, index: int) -> None:
        if self.reader is None:
            return
        index = int(min(max(index, 0), self.frame_count - 1))
        if self.playing:
            self._anchor = (time.monotonic(), self.seconds(index))
        self._go(index)

    def seek_seconds(self, seconds: float) -> None:
        if self.clock is not None:
            self.seek_frame(self.clock.seconds_to_frame(max(0.0, seconds)))

    def step(self, frames: int) -> None:
        """Pause and move by whole frames (frame stepping is a paused-mode gesture)."""
        self.pause()
        self.seek_frame(self.position + frames)

    def jump(self, seconds: float) -> None:
        self.seek_seconds(self.seconds() + seconds)

    def home(self) -> None:
        self.seek_frame(0)

    def end(self) -> None:
        self.seek_frame(self.frame_count - 1)

    def _go(self, index: int) -> None:
        changed = index != self.position
        self.position = index
        if self.server is not None:
            ask = index != self._requested
            frame = self.server.show(index, request=ask)   # a hit also drops an older request
            if frame is not None:
                self._requested = None
                self._show(index, frame)
            elif ask:
                self._requested = index
        if changed:
            self.position_changed.emit(index)

    @staticmethod
    def display_box(width: int, height: int) -> tuple[int, int]:
        """The box frames are decoded to fit for a view of `width` x `height` device pixels: rounded
        UP to a multiple of DISPLAY_SIZE_STEP, so that a splitter dragged a few pixels keeps the
        frames already decoded around the playhead (a new size re-decodes seconds of video); the
        view scales the slightly larger frame down when painting."""
        step = DISPLAY_SIZE_STEP
        return -(-int(width) // step) * step, -(-int(height) // step) * step

    @Slot(int, int)
    def _on_view_resized(self, width: int, height: int) -> None:
        """A resize settles before the decode size follows it: while a window edge is dragged the
        frame on screen is scaled, and only the final size is decoded."""
        self._view_size = (int(width), int(height))
        self._resize_settle.start()

    def _apply_view_size(self) -> None:
        if self.server is not None and self._view_size is not None and \
                self.server.set_display_size(*self.display_box(*self._view_size)):
            self._requested = self.position          # the frame on screen, at the new size
            self.server.request(self.position)

    # --- playback -----------------------------------------------------------------------------------
    def play(self) -> None:
        if self.reader is None or self.playing:
            return
        if self.position >= self.frame_count - 1:
            self.seek_frame(0)
        self.playing = True
        self.view.smooth = False
        self._anchor = (time.monotonic(), self.seconds())
        self.server.set_playing(True, self.speed)
        self.timer.start()
        self.playing_changed.emit(True)

    def pause(self) -> None:
        if not self.playing:
            return
        self.playing = False
        self.view.smooth = True
        self.view.update()
        self.timer.stop()
        self._anchor = None
        if self.server is not None:
            self.server.set_playing(False, self.speed)
        self.playing_changed.emit(False)

    def toggle_play(self) -> None:
        self.pause() if self.playing else self.play()

    def set_speed(self, speed: float) -> None:
        speed = float(min(max(speed, SPEEDS[0]), SPEEDS[-1]))
        if self.playing:  # re-anchor so the position is continuous across the change
            self._anchor = (time.monotonic(), self.playback_seconds())
        self.speed = speed
        if self.server is not None:
            self.server.set_playing(self.playing, speed)
        self.speed_changed.emit(speed)

    def faster(self) -> None:
        self.set_speed(next((s for s in SPEEDS if s > self.speed + 1e-9), SPEEDS[-1]))

    def slower(self) -> None:
        self.set_speed(next((s for s in reversed(SPEEDS) if s < self.speed - 1e-9), SPEEDS[0]))

    def playback_seconds(self, now: float | None = None) -> float:
        """Where playback is by the monotonic clock (the position when paused)."""
        if self._anchor is None:
            return self.seconds()
        t0, s0 = self._anchor
        return s0 + ((time.monotonic() if now is None else now) - t0) * self.speed

    def set_loop(self, frames: tuple[int, int] | None) -> None:
        """Loop playback over frames [start, end) (None: no loop); jumps into it if outside."""
        self.loop = None if frames is None else (int(frames[0]), int(frames[1]))
        if self.loop is not None and not self.loop[0] <= self.position < self.loop[1]:
            self.seek_frame(self.loop[0])

    @Slot()
    def _tick(self) -> None:
        seconds = self.playback_seconds()
        if self.loop is not None and seconds >= self.seconds(self.loop[1]):
            self._anchor = (time.monotonic(), self.seconds(self.loop[0]))
            self._go(self.loop[0])
            return
        if seconds >= self.duration:
            self._go(self.frame_count - 1)
            self.pause()
            return
        index = int(self.clock.seconds_to_frame(seconds))
        if index != self.position:
            self._go(index)

    # --- frames arriving --------------------------------------------------------------------------
    @Slot(int, object)
    def _on_frame(self, index: int, frame) -> None:
        if index == self._requested:
            self._requested = None
        if index == self.position or (self.playing and self.view.index is not None
                                      and self.view.index < index <= self.position):
            self._show(index, frame)

    @Slot(int, str)
    def _on_failed(self, index: int, message: str) -> None:
        if index == self._requested:
            self._requested = None
        self.error.emit(f"frame {index}: {message}")

    def _show(self, index: int, frame) -> None:
        self.view.set_frame(index, frame)
        self.frame_shown.emit(index)
