"""Feature sets in the layouts users have: a W-TALC bundle built from the real W-TALC annotation
files, per-video folders (npy, rgb+flow npy, per-video h5, one set h5), the THUMOS txt folder as
annotation source; wrong dims refused with the file named, videos without features skipped."""

from __future__ import annotations

import json
import logging
import shutil

import numpy as np
import pytest

from sdanet_gui.data.annotations import load_annotations, save_annotations
from sdanet_gui.data.feature_files import FeatureFile, write_feature_file
from sdanet_gui.data.feature_sets import (choose_subsets, load_feature_set, write_pervideo_feature_set,
                                          write_wtalc_bundle)
from sdanet_gui.data.structures import Segment, VideoAnnotation
from sdanet_gui.data.units import FeatureSpec
from sdanet_gui.errors import UserError

# what a THUMOS14 preset would say, with small dims so the test data stays tiny
PRESET = FeatureSpec(fps=25.0, snippet_frames=16, stride_frames=16, modalities=(("rgb", 6), ("flow", 4)))


@pytest.fixture(scope="module")
def wtalc_annotations(shared_data):
    return load_annotations(shared_data / "annotations" / "thumos14reduced_wtalc")


def _random_features(aset, spec, names=None, seed=0):
    rng = np.random.default_rng(seed)
    names = list(aset.videos) if names is None else names
    return {n: (rng.standard_normal((spec.snippet_count(aset.videos[n].duration), spec.feature_dim))
                .astype(np.float32), aset.videos[n]) for n in names}


def test_wtalc_bundle_from_the_real_annotation_files(tmp_path, wtalc_annotations):
    videos = _random_features(wtalc_annotations, PRESET)
    write_wtalc_bundle(tmp_path, "Thumos14reduced", PRESET, wtalc_annotations.classes, videos)
    assert (tmp_path / "Thumos14reduced-I3D-JOINTFeatures.npy").is_file()
    fs = load_feature_set(tmp_path, spec=PRESET)
    assert (fs.train_subset, fs.test_subset) == ("validation", "test")
    assert len(fs.by_subset("validation")) == 200 and len(fs.by_subset("test")) == 212
    assert fs.classes == wtalc_annotations.classes and fs.skipped == []
    assert fs.spec == PRESET
    v = fs.videos[7]
    # T from duration * 25 / 16, as the community features have
    assert v.num_snippets == int(v.annotation.duration * 25 / 16) == v.features().shape[0]
    assert np.array_equal(v.features(), videos[v.name][0])
    labels = fs.label_matrix(fs.by_subset("test"))
    assert labels.shape == (212, 20) and labels.sum(axis=1).min() >= 1
    assert sum(len(x.annotation.ambiguous) for x in fs.by_subset("test")) == 96
    # loading the features file directly works too; the preset's dims must match the arrays
    assert len(load_feature_set(tmp_path / "Thumos14reduced-I3D-JOINTFeatures.npy", spec=PRESET).videos) == 412
    other = FeatureSpec(25.0, 16, 16, (("rgb", 1024), ("flow", 1024)))
    with pytest.raises(UserError, match=r"Thumos14reduced-I3D-JOINTFeatures\.npy.*10 dims but the feature spec expects 2048"):
        load_feature_set(tmp_path, spec=other)
    # a bundle does not say its fps / snippet length: without a preset that is an error, not a guess
    with pytest.raises(UserError, match="feature spec"):
        load_feature_set(tmp_path)
    # a soft default (a preset for data of any size) gives the timing, the arrays give the dims
    soft = load_feature_set(tmp_path, default_spec=FeatureSpec(30.0, 8, 8, (("rgb", 1024), ("flow", 1024))))
    assert soft.spec == FeatureSpec(30.0, 8, 8, (("rgb", 5), ("flow", 5)))


def _small_videos(wtalc_annotations, n_val=4, n_test=3):
    val = [k for k, v in wtalc_annotations.videos.items() if v.subset == "validation"][:n_val]
    test = [k for k, v in wtalc_annotations.videos.items() if v.subset == "test"][:n_test]
    return _random_features(wtalc_annotations, PRESET, val + test, seed=1)


@pytest.mark.parametrize("layout", ["npy", "rgb_flow", "h5", "set_h5"])
def test_per_video_folder_layouts(tmp_path, wtalc_annotations, layout):
    videos = _small_videos(wtalc_annotations)
    write_pervideo_feature_set(tmp_path, PRESET, wtalc_annotations.classes, videos, "validation", "test",
                               layout=layout)
    fs = load_feature_set(tmp_path)  # the spec comes from the data, no preset needed
    assert fs.spec == PRESET and fs.spec.modality_slices()["flow"] == slice(6, 10)
    assert (fs.train_subset, fs.test_subset) == ("validation", "test")
    assert [v.name for v in fs.videos] == list(videos)
    for v in fs.videos:
        assert v.num_snippets == videos[v.name][0].shape[0]
        got = v.features()
        assert got.dtype == np.float32 and np.array_equal(got, videos[v.name][0])
        assert [(s.label, s.start) for s in v.annotation.segments] == \
               [(s.label, s.start) for s in videos[v.name][1].segments]


def test_per_video_h5_written_by_feature_files(tmp_path, wtalc_annotations):
    """Features extracted into feature_files' per-video layout, annotations as THUMOS txt folder."""
    videos = _small_videos(wtalc_annotations, 2, 2)
    spec = FeatureSpec(30.0, 8, 4, (("rgb", 6), ("flow", 4)))
    for name, (arr, _) in videos.items():
        write_feature_file(tmp_path / "set" / "features" / f"{name}.h5", FeatureFile(name, arr, spec))
    thumos = save_annotations(wtalc_annotations, tmp_path / "thumos_txt", "thumos14")
    fs = load_feature_set(tmp_path / "set", annotations=thumos)
    assert fs.spec == spec  # from the h5 attributes
    assert len(fs.videos) == 4 and len(fs.skipped) == 412 - 4
    assert (fs.train_subset, fs.test_subset) == ("validation", "test")


def test_thumos_txt_folder_as_annotation_source(tmp_path, shared_data):
    cmcs = load_annotations(shared_data / "annotations" / "thumos14_cmcs")
    names = ["video_validation_0000051", "video_test_0000004", "video_test_0000324"]
    rng = np.random.default_rng(2)
    (tmp_path / "features").mkdir()
    for n in names:
        np.save(tmp_path / "features" / f"{n}.npy", rng.standard_normal((40, 10)).astype(np.float32))
    fs = load_feature_set(tmp_path, annotations=shared_data / "annotations" / "thumos14_cmcs", spec=PRESET)
    assert sorted(v.name for v in fs.videos) == sorted(names)
    assert len(fs.skipped) == len(cmcs.videos) - 3
    assert (fs.train_subset, fs.test_subset) == ("validation", "test")
    assert fs.classes == cmcs.classes


def test_rgb_and_flow_of_different_length_are_cut_to_the_shorter(tmp_path, wtalc_annotations):
    videos = _small_videos(wtalc_annotations, 1, 1)
    write_pervideo_feature_set(tmp_path, PRESET, wtalc_annotations.classes, videos, "validation", "test",
                               layout="rgb_flow")
    name = next(iter(videos))
    flow = np.load(tmp_path / "features" / f"{name}_flow.npy")
    np.save(tmp_path / "features" / f"{name}_flow.npy", flow[:-1])
    fs = load_feature_set(tmp_path)
    v = next(x for x in fs.videos if x.name == name)
    assert v.num_snippets == flow.shape[0] - 1 == v.features().shape[0]
    assert np.array_equal(v.features(), videos[name][0][:-1])


def test_dim_mismatch_is_refused_naming_the_file(tmp_path, wtalc_annotations):
    videos = _small_videos(wtalc_annotations, 2, 1)
    write_pervideo_feature_set(tmp_path, PRESET, wtalc_annotations.classes, videos, "validation", "test")
    odd = list(videos)[1]
    np.save(tmp_path / "features" / f"{odd}.npy", np.zeros((12, 7), np.float32))
    with pytest.raises(UserError, match=rf"{odd}\.npy.*7 dims but .* has 10"):
        load_feature_set(tmp_path)
    np.save(tmp_path / "features" / f"{odd}.npy", np.zeros((12, 10), np.float32))
    spec_2048 = FeatureSpec(25.0, 16, 16, (("rgb", 1024), ("flow", 1024)))
    with pytest.raises(UserError, match="10 dims but the feature spec expects 2048"):
        load_feature_set(tmp_path, spec=spec_2048)
    doc = json.loads((tmp_path / "annotations.json").read_text())
    doc["feature_dim"] = 2048
    (tmp_path / "annotations.json").write_text(json.dumps(doc))
    with pytest.raises(UserError, match="feature_dim 2048"):
        load_feature_set(tmp_path)
    np.save(tmp_path / "features" / f"{odd}.npy", np.zeros((12,), np.float32))
    with pytest.raises(UserError, match=rf"{odd}\.npy.*expected \[T, D\]"):
        load_feature_set(tmp_path)
    (tmp_path / "features" / f"{odd}.npy").write_bytes(b"not numpy at all")
    with pytest.raises(UserError, match=rf"{odd}\.npy.*not a readable"):
        load_feature_set(tmp_path)


def test_videos_without_features_are_skipped_counted_and_warned(tmp_path, wtalc_annotations, caplog):
    videos = _small_videos(wtalc_annotations, 3, 3)
    write_pervideo_feature_set(tmp_path, PRESET, wtalc_annotations.classes, videos, "validation", "test")
    gone = list(videos)[:2]
    for n in gone:
        (tmp_path / "features" / f"{n}.npy").unlink()
    with caplog.at_level(logging.WARNING):
        fs = load_feature_set(tmp_path)
    assert fs.skipped == gone and len(fs.videos) == 4
    assert "2 annotated video(s) have no features" in caplog.text


def test_features_are_loaded_lazily(tmp_path, wtalc_annotations):
    videos = _small_videos(wtalc_annotations, 1, 1)
    write_pervideo_feature_set(tmp_path, PRESET, wtalc_annotations.classes, videos, "validation", "test")
    fs = load_feature_set(tmp_path)
    first = fs.videos[0]
    np.save(tmp_path / "features" / f"{first.name}.npy", videos[first.name][0] + 1.0)
    assert np.array_equal(first.features(), videos[first.name][0] + 1.0)  # read at use, not at load


def test_label_outside_the_class_list_is_an_error(tmp_path):
    ann = VideoAnnotation("v1", "training", 20.0, [Segment("Swim", 1.0, 2.0)])
    with pytest.raises(UserError, match="'Swim' is not in the class list"):
        write_pervideo_feature_set(tmp_path, PRESET, ["Jump"], {"v1": (np.zeros((5, 10)), ann)},
                                   "training", "validation")
    ok = VideoAnnotation("v1", "training", 20.0, [Segment("Jump", 1.0, 2.0)])
    write_pervideo_feature_set(tmp_path, PRESET, ["Jump"], {"v1": (np.zeros((5, 10)), ok)}, "training", "training")
    doc = json.loads((tmp_path / "annotations.json").read_text())
    doc["database"]["v1"]["annotations"].append({"segment": [3, 4], "label": "Swim"})
    (tmp_path / "annotations.json").write_text(json.dumps(doc))
    with pytest.raises(UserError, match=r"annotations\.json.*video 'v1', segment 1.*'Swim'"):
        load_feature_set(tmp_path)


def test_missing_pieces_are_named(tmp_path, wtalc_annotations):
    with pytest.raises(UserError, match="feature set not found"):
        load_feature_set(tmp_path / "nothing")
    videos = _small_videos(wtalc_annotations, 1, 1)
    write_pervideo_feature_set(tmp_path, PRESET, wtalc_annotations.classes, videos, "validation", "test")
    (tmp_path / "annotations.json").unlink()
    with pytest.raises(UserError, match="no annotations.json"):
        load_feature_set(tmp_path)
    bundle = tmp_path / "b"
    write_wtalc_bundle(bundle, "Tiny", PRESET, wtalc_annotations.classes, videos)
    shutil.rmtree(bundle / "Tiny-Annotations")
    with pytest.raises(UserError, match="Tiny-Annotations/ is missing"):
        load_feature_set(bundle, spec=PRESET)


def test_subset_choice_order():
    present = {"training", "validation", "testing"}
    assert choose_subsets(present, None, None, {}, None, "x") == ("training", "validation")
    assert choose_subsets(present, None, None, {}, ("training", "testing"), "x") == ("training", "testing")
    assert choose_subsets(present, None, None, {"test_subset": "testing"}, ("training", "validation"),
                          "x") == ("training", "testing")
    assert choose_subsets(present, "validation", None, {"train_subset": "training"}, None, "x") == \
        ("validation", "validation")
    assert choose_subsets({"validation", "test"}, None, None, {}, ("training", "validation"), "x") == \
        ("validation", "test")  # a preset naming absent subsets falls through to the conventions
    with pytest.raises(UserError, match="subset 'train' .*given.* not in the data"):
        choose_subsets(present, "train", None, {}, None, "x")
    assert choose_subsets({"training"}, None, None, {"train_subset": "training", "test_subset": "testing"},
                          None, "x") == ("training", "testing")  # data may name an empty subset
    with pytest.raises(UserError, match="cannot tell which subsets"):
        choose_subsets({"a", "b"}, None, None, {}, None, "x")
    assert choose_subsets({"only"}, None, None, {}, None, "x") == ("only", "only")
