"""Property: any annotation set written in any format and read back has the same segments and
ambiguous intervals (0.01 s), subsets, durations and class list where the format holds them."""

from __future__ import annotations

import tempfile
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sdanet_gui.data.annotations import WRITE_FORMATS, load_annotations, save_annotations
from sdanet_gui.data.structures import AnnotationSet, Segment, VideoAnnotation

CLASSES = ["Jump", "High Jump", "Cliff_Diving", "Tennis-Swing"]
times = st.floats(min_value=0.0, max_value=20000.0, allow_nan=False, allow_infinity=False)
lengths = st.floats(min_value=0.0, max_value=600.0, allow_nan=False, allow_infinity=False)


@st.composite
def segments(draw):
    start, length = draw(times), draw(lengths)
    return Segment(draw(st.sampled_from(CLASSES)), start, start + length)


@st.composite
def annotation_sets(draw):
    names = draw(st.lists(st.from_regex(r"v_[A-Za-z0-9_-]{1,12}", fullmatch=True), min_size=1,
                          max_size=4, unique=True))
    videos = {}
    for name in names:
        segs = draw(st.lists(segments(), max_size=6))
        amb = [(s.start, s.end) for s in draw(st.lists(segments(), max_size=2))]
        duration = max([s.end for s in segs] + [b for _, b in amb] + [1.0]) + draw(lengths)
        videos[name] = VideoAnnotation(name, draw(st.sampled_from(["validation", "test"])),
                                       round(duration, 3), segs, amb)
    return AnnotationSet(videos, list(CLASSES))


TARGET = {"activitynet": "gt.json", "csv": "t.csv", "gtad_csv": "g.csv"}


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(aset=annotation_sets(), fmt=st.sampled_from(WRITE_FORMATS))
def test_write_then_read_keeps_every_segment(aset, fmt, differences):
    with tempfile.TemporaryDirectory() as tmp:
        out = save_annotations(aset, Path(tmp) / TARGET.get(fmt, "folder"), fmt)
        back = load_annotations(out)
    lists_instances = fmt in ("thumos14", "gtad_csv")
    assert differences(aset, back, annotated_only=lists_instances) == []
    if fmt in ("activitynet", "thumos14", "elan", "wtalc"):
        assert back.classes == aset.classes
    for name, v in back.videos.items():
        if fmt != "gtad_csv":
            assert v.subset == aset.videos[name].subset
        if fmt in ("activitynet", "csv", "elan", "wtalc"):
            assert abs(v.duration - aset.videos[name].duration) <= 0.01


@st.composite
def feature_sets(draw):
    import numpy as np

    from sdanet_gui.data.units import FeatureSpec

    dims = draw(st.lists(st.integers(1, 6), min_size=1, max_size=3))
    if draw(st.booleans()):
        dims = dims[:2] + [1] * (2 - len(dims[:2]))  # rgb_flow needs two modalities
    names = ("rgb", "flow", "audio")[:len(dims)]
    spec = FeatureSpec(draw(st.sampled_from([25.0, 29.97, 30.0, 10.0])), draw(st.integers(1, 64)),
                       draw(st.integers(1, 64)), tuple(zip(names, dims)))
    rng = np.random.default_rng(draw(st.integers(0, 2**16)))
    aset = draw(annotation_sets())
    videos = {n: (rng.standard_normal((draw(st.integers(1, 30)), spec.feature_dim)).astype(np.float32), v)
              for n, v in aset.videos.items()}
    layouts = ["npy", "h5", "set_h5"] + (["rgb_flow"] if len(dims) == 2 else [])
    return spec, aset.classes, videos, draw(st.sampled_from(layouts))


@settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(case=feature_sets())
def test_feature_set_write_then_load(case, differences):
    import numpy as np

    from sdanet_gui.data.feature_sets import load_feature_set, write_pervideo_feature_set

    spec, classes, videos, layout = case
    with tempfile.TemporaryDirectory() as tmp:
        write_pervideo_feature_set(tmp, spec, classes, videos, "validation", "test", layout=layout)
        fs = load_feature_set(tmp)
        assert fs.spec == spec and fs.classes == classes
        assert [v.name for v in fs.videos] == list(videos)
        for v in fs.videos:
            assert np.array_equal(v.features(), videos[v.name][0])
        assert differences(AnnotationSet({n: a for n, (_, a) in videos.items()}, classes),
                           fs.annotations()) == []
