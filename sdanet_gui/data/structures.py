"""The plain structures that every layer exchanges: segments, annotated videos, feature sets.

Times here are seconds, because that is what annotation files hold; the project store converts
them to frames through `units.FrameClock`. Labels are class names (str), never indices, so that
two files with different class orders cannot be confused.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, Sequence

import numpy as np

from .units import FeatureSpec


@dataclass
class Segment:
    """One action instance: [start, end) seconds. `score` is None for ground truth."""

    label: str
    start: float
    end: float
    score: float | None = None
    meta: dict = field(default_factory=dict)  # format-specific extras: provenance, frames, ...
    # where a reader found it ("line 7", "video 'x', annotation 2"), for messages; not data
    where: str = field(default="", compare=False, repr=False)

    @property
    def length(self) -> float:
        return self.end - self.start


@dataclass
class VideoAnnotation:
    """What an annotation file says about one video."""

    name: str
    subset: str = ""
    duration: float | None = None
    segments: list[Segment] = field(default_factory=list)
    ambiguous: list[tuple[float, float]] = field(default_factory=list)
    fps: float | None = None
    # format-specific extras about the video itself, e.g. "media_path" (the ELAN export links it)
    meta: dict = field(default_factory=dict)

    @property
    def labels(self) -> list[str]:
        """Video-level labels (sorted, unique) derived from the segments."""
        return sorted({s.label for s in self.segments})


@dataclass
class AnnotationSet:
    """A whole annotation file (or folder): videos by name plus the class list if fixed."""

    videos: dict[str, VideoAnnotation] = field(default_factory=dict)
    classes: list[str] = field(default_factory=list)
    source: str = ""
    # file-level extras a format carries (annotations.json: fps, snippet_frames, train_subset, ...)
    info: dict = field(default_factory=dict)

    def subset(self, name: str | None) -> "AnnotationSet":
        if not name:
            return self
        return AnnotationSet({k: v for k, v in self.videos.items() if v.subset == name},
                             list(self.classes), self.source, dict(self.info))

    def all_labels(self) -> list[str]:
        return sorted({s.label for v in self.videos.values() for s in v.segments})


@dataclass
class FeatureVideo:
    """One video of a feature set: features [T, D] (loaded on demand) and its annotation."""

    name: str
    annotation: VideoAnnotation
    _loader: Callable[[], np.ndarray] = field(repr=False, default=None)
    num_snippets: int | None = None

    def features(self) -> np.ndarray:
        return self._loader()


@dataclass
class FeatureSet:
    """Features plus annotations plus the spec that ties them to time.

    `train_subset` / `test_subset` name which subsets are used for training and testing; they
    come from the data or the preset and can be overridden from the command line.
    """

    spec: FeatureSpec
    classes: list[str]
    videos: list[FeatureVideo]
    train_subset: str = "train"
    test_subset: str = "test"
    source: str = ""
    skipped: list[str] = field(default_factory=list)

    def by_subset(self, name: str | None) -> list[FeatureVideo]:
        if not name:
            return list(self.videos)
        return [v for v in self.videos if v.annotation.subset == name]

    def subsets(self) -> list[str]:
        return sorted({v.annotation.subset for v in self.videos})

    def annotations(self, subset: str | None = None) -> AnnotationSet:
        return AnnotationSet({v.name: v.annotation for v in self.by_subset(subset)},
                             list(self.classes), self.source)

    def label_matrix(self, videos: Sequence[FeatureVideo]) -> np.ndarray:
        """Multi-hot [N, C] video-level labels in `self.classes` order."""
        index = {c: i for i, c in enumerate(self.classes)}
        out = np.zeros((len(videos), len(self.classes)), dtype=np.float32)
        for row, v in enumerate(videos):
            for lab in v.annotation.labels:
                out[row, index[lab]] = 1.0
        return out
