"""Dense optical flow between consecutive frames for the I3D flow stream.

TV-L1 (the flow the community I3D features were computed with) when OpenCV's contrib module
`cv2.optflow` is installed, else Farneback from core OpenCV. Output is clipped to +-20 pixels and
scaled to [-1, 1], the input range the pytorch-i3d flow weights expect. It never resizes or
crops: callers pass the frames at the resolution the network sees.
"""

from __future__ import annotations

import numpy as np

FLOW_BOUND = 20.0


def flow_method() -> str:
    """"tvl1" when OpenCV has the contrib optflow module, else "farneback"."""
    import cv2

    return "tvl1" if hasattr(cv2, "optflow") and hasattr(cv2.optflow, "DualTVL1OpticalFlow_create") \
        else "farneback"


class FlowComputer:
    """frames: uint8 gray [H, W] pairs -> float32 [H, W, 2] in [-1, 1] (x then y displacement)."""

    def __init__(self, method: str | None = None):
        import cv2

        self._cv2 = cv2
        self.method = method or flow_method()
        self._tvl1 = cv2.optflow.DualTVL1OpticalFlow_create() if self.method == "tvl1" else None

    def __call__(self, prev_gray: np.ndarray, next_gray: np.ndarray) -> np.ndarray:
        if self._tvl1 is not None:
            flow = self._tvl1.calc(prev_gray, next_gray, None)
        else:
            flow = self._cv2.calcOpticalFlowFarneback(prev_gray, next_gray, None, pyr_scale=0.5,
                                                      levels=3, winsize=15, iterations=3, poly_n=5,
                                                      poly_sigma=1.2, flags=0)
        return (np.clip(flow, -FLOW_BOUND, FLOW_BOUND) / FLOW_BOUND).astype(np.float32)

    def stack(self, frames_gray: list[np.ndarray]) -> np.ndarray:
        """N+1 gray frames [H, W] -> N flows [N, H, W, 2]."""
        return np.stack([self(a, b) for a, b in zip(frames_gray[:-1], frames_gray[1:])])
