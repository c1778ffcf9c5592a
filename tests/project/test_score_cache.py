"""The per-model-version score cache: real scores of the bundled demo model on the bundled demo
features, written into a real project folder and read back; a changed feature file is a miss."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import numpy as np
import pytest

from sdanet_gui.bundled import model_files, resource_files
from sdanet_gui.project.score_cache import CachedScores, ScoreCache

DEMO = Path(str(resource_files() / "demo"))


@pytest.fixture(scope="module")
def demo_scores():
    """(feature spec, classes, post dict, cas [T, C+1], attention [T]) of demo_1 by the demo model."""
    import torch

    from sdanet_gui.data.feature_files import read_feature_file
    from sdanet_gui.sdanet.predict import load_model, score_features

    torch.set_num_threads(2)
    model, meta = load_model(Path(str(model_files() / "demo.pt")), device="cpu")
    ff = read_feature_file(DEMO / "features" / "demo_1.h5", meta.feature_spec)
    s = score_features(model, ff.features)
    mod = np.stack([s.modality_attention[n] for n in meta.feature_spec.modality_names], 1)
    return meta.feature_spec, list(meta.classes), meta.config.get("post"), s.cas, s.attention, mod


@pytest.fixture
def features(tmp_path):
    """A private copy of a demo feature file (the test changes it)."""
    p = tmp_path / "features" / "demo_1.h5"
    p.parent.mkdir()
    shutil.copy2(DEMO / "features" / "demo_1.h5", p)
    return p


def test_round_trip_per_model_version(project, features, demo_scores):
    spec, classes, post, cas, att, mod = demo_scores
    cache = ScoreCache.for_project(project)
    assert cache.get(1, features) is None  # nothing cached yet
    written = cache.put(1, features, CachedScores("demo_1", cas, att, spec, classes, post, mod))
    assert written.is_file() and Path(project.cache_dir) in written.parents
    got = cache.get(1, features)
    assert got is not None and got.video_name == "demo_1"
    np.testing.assert_array_equal(got.cas, cas.astype(np.float32))
    np.testing.assert_array_equal(got.attention, att.astype(np.float32))
    np.testing.assert_array_equal(got.modality_attention, mod.astype(np.float32))
    assert got.cas.shape == (cas.shape[0], len(classes) + 1)
    assert got.spec == spec and got.classes == classes and got.post == post
    # keyed by model version: another version of the same features is a miss
    assert cache.get(2, features) is None
    # a fresh cache object over the same folder (a reopened project) finds it
    assert ScoreCache.for_project(project).get(1, features) is not None
    # written without pickles: the file loads with allow_pickle=False and holds no object array
    with np.load(written, allow_pickle=False) as z:
        assert sorted(z.files) == ["attention", "cas", "meta", "modality_attention"]
        assert all(z[k].dtype != object for k in z.files)
        assert json.loads(str(z["meta"][()]))["features"]["path"] == str(features.resolve())
    cache.drop_version(1)
    assert cache.get(1, features) is None


def test_a_changed_or_missing_feature_file_is_a_miss(project, features, demo_scores):
    spec, classes, post, cas, att, _ = demo_scores
    cache = ScoreCache.for_project(project)
    cache.put(3, features, CachedScores("demo_1", cas, att, spec, classes, post))
    assert cache.get(3, features) is not None
    st = features.stat()
    os.utime(features, ns=(st.st_atime_ns, st.st_mtime_ns + 1_000_000_000))  # re-written later
    assert cache.get(3, features) is None
    cache.put(3, features, CachedScores("demo_1", cas, att, spec, classes, post))
    assert cache.get(3, features) is not None
    with open(features, "ab") as fh:  # same path, other content (size changes)
        fh.write(b"\0" * 16)
    os.utime(features, ns=(st.st_atime_ns, st.st_mtime_ns + 1_000_000_000))
    assert cache.get(3, features) is None
    cache.put(3, features, CachedScores("demo_1", cas, att, spec, classes, post))
    features.unlink()
    assert cache.get(3, features) is None
    assert cache.put(3, features, CachedScores("demo_1", cas, att, spec, classes, post)) is None


def test_a_damaged_entry_is_a_miss_not_an_error(project, features, demo_scores, caplog):
    spec, classes, post, cas, att, _ = demo_scores
    cache = ScoreCache.for_project(project)
    path = cache.put(4, features, CachedScores("demo_1", cas, att, spec, classes, post))
    path.write_bytes(path.read_bytes()[:100])  # truncated (crash of another program, bad disk)
    assert cache.get(4, features) is None
    assert "unreadable score cache entry" in caplog.text
    # scores that do not fit the classes are refused on write
    with pytest.raises(ValueError):
        cache.put(4, features, CachedScores("demo_1", cas[:, :2], att, spec, classes, post))
