"""The `tiny` extractor: fast, weight-free features for the demo and the tests. NOT a learned model.

Each frame is shrunk to 32x32. Per 16-frame snippet, appearance = the mean thumbnail (colour) and
its temporal standard deviation; motion = mean absolute and mean signed difference of consecutive
grey thumbnails. Each is projected to 128 dims by a fixed, seeded random matrix and squashed with
tanh. Distinct scenes and movements give distinct vectors, which is enough to exercise training,
localization and the GUI end to end in seconds; it says nothing about real action classes and
must never be presented as comparable to I3D features.

Spec: 25 fps, 16-frame snippets, stride 16, modalities appearance 128 + motion 128.
"""

from __future__ import annotations

import numpy as np

from ..data.units import FeatureSpec

NAME = "tiny"
SIZE = 32
DIM = 128
SEED = 20240611
VERSION = 1


class TinyExtractor:
    name = NAME
    spec = FeatureSpec(fps=25.0, snippet_frames=16, stride_frames=16,
                       modalities=(("appearance", DIM), ("motion", DIM)))

    def __init__(self):
        rng = np.random.default_rng(SEED)
        n_app = SIZE * SIZE * 3 * 2
        n_mot = SIZE * SIZE * 2
        self._w_app = (rng.standard_normal((n_app, DIM)) / np.sqrt(n_app)).astype(np.float32)
        self._w_mot = (rng.standard_normal((n_mot, DIM)) / np.sqrt(n_mot)).astype(np.float32)

    @property
    def config(self) -> dict:
        return {"name": NAME, "version": VERSION, "thumbnail": SIZE, "dims": [DIM, DIM], "seed": SEED,
                "fps": self.spec.fps, "snippet_frames": self.spec.snippet_frames,
                "note": "built-in demo extractor: random projections of thumbnail statistics, no weights"}

    def prepare(self, frame: np.ndarray) -> np.ndarray:
        """RGB uint8 [H, W, 3] -> float32 [32, 32, 3] in [0, 1]."""
        import cv2

        return cv2.resize(frame, (SIZE, SIZE), interpolation=cv2.INTER_AREA).astype(np.float32) / 255.0

    def snippet(self, prepared: list[np.ndarray]) -> np.ndarray:
        """snippet_frames + 1 prepared frames (the last is the next snippet's first) -> [256]."""
        x = np.stack(prepared)                           # [N+1, 32, 32, 3]
        frames = x[:-1]
        app = np.concatenate([frames.mean(0).ravel(), frames.std(0).ravel() * 4.0])
        grey = x.mean(-1)                                # [N+1, 32, 32]
        diff = np.diff(grey, axis=0)                     # [N, 32, 32]
        mot = np.concatenate([np.abs(diff).mean(0).ravel(), diff.mean(0).ravel()]) * 10.0
        return np.concatenate([np.tanh(app @ self._w_app), np.tanh(mot @ self._w_mot)]).astype(np.float32)

    def snippets(self, batch: list[list[np.ndarray]]) -> np.ndarray:
        return np.stack([self.snippet(p) for p in batch])
