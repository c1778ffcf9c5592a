"""Two versions of one annotation set, for the folder-export tests and their child processes
(kept in a module of its own so that a child interpreter can import it without pytest)."""

from __future__ import annotations

from sdanet_gui.data.structures import AnnotationSet, Segment, VideoAnnotation


def make_set(version: int, videos: int = 24) -> AnnotationSet:
    """Version 1 drops four videos and a class and moves every segment, so a mix of the two is
    visible in names and in contents."""
    classes = ["Jump", "High Jump", "Swim"] if version == 0 else ["Jump", "High Jump"]
    out = {}
    for v in range(videos - 4 * version):
        segs = [Segment(classes[(v + k) % len(classes)], 1.0 + k * 3 + version, 2.5 + k * 3 + version)
                for k in range(3)]
        out[f"video_{v:03d}"] = VideoAnnotation(f"video_{v:03d}", "test" if v % 2 else "validation",
                                                60.0, segs, [(40.0, 41.0)] if v % 3 == 0 else [])
    return AnnotationSet(out, classes)
