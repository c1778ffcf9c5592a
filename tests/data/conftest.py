"""Fixtures for the format tests: the real annotation files and a segment comparison at 0.01 s."""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture(scope="session")
def annotations_dir(shared_data) -> Path:
    return shared_data / "annotations"


def _key(aset, *, only_annotated=False):
    """video -> (sorted (label, start, end) at 0.01 s, sorted ambiguous at 0.01 s)."""
    out = {}
    for name, v in aset.videos.items():
        if only_annotated and not v.segments and not v.ambiguous:
            continue
        out[name] = (sorted((s.label, round(s.start, 2), round(s.end, 2)) for s in v.segments),
                     sorted((round(a, 2), round(b, 2)) for a, b in v.ambiguous))
    return out


@pytest.fixture(scope="session")
def segment_key():
    return _key


def _differences(a, b, *, tol=0.01, annotated_only=False) -> list[str]:
    """Names of videos whose segments or ambiguous intervals differ by more than `tol` seconds
    (or that are missing on one side). With annotated_only, videos of `a` without any segment or
    ambiguous interval may be missing from `b` (formats that list instances, not videos)."""
    bad = []
    names = [n for n, v in a.videos.items() if not annotated_only or v.segments or v.ambiguous]
    extra = set(b.videos) - set(a.videos)
    bad += sorted(extra)
    for n in names:
        va, vb = a.videos[n], b.videos.get(n)
        if vb is None:
            bad.append(n)
            continue
        sa = [(s.label, s.start, s.end) for s in va.segments]
        sb = [(s.label, s.start, s.end) for s in vb.segments]
        ok = _match(sa, sb, tol) and _match([("", *x) for x in va.ambiguous], [("", *x) for x in vb.ambiguous], tol)
        if not ok:
            bad.append(n)
    return bad


def _match(a: list, b: list, tol: float) -> bool:
    """Every (label, start, end) of `a` pairs with its own item of `b` within `tol`, and back."""
    if len(a) != len(b):
        return False
    left = sorted(b, key=lambda x: (x[0], x[1], x[2]))
    for lab, s, e in sorted(a, key=lambda x: (x[0], x[1], x[2])):
        for i, (lb, sb, eb) in enumerate(left):
            if lb == lab and abs(sb - s) <= tol and abs(eb - e) <= tol:
                del left[i]
                break
        else:
            return False
    return True


@pytest.fixture(scope="session")
def differences():
    return _differences
