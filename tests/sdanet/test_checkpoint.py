"""Checkpoints: a saved model predicts exactly what it predicted before saving; a checkpoint for
other classes or feature sizes is refused with a message naming the file and both sides; a
damaged or foreign file is refused without unpickling it."""

from __future__ import annotations

import errno

import numpy as np
import pytest
import torch

from sdanet_gui.data.structures import FeatureSet, FeatureVideo, Segment, VideoAnnotation
from sdanet_gui.data.units import FeatureSpec
from sdanet_gui.errors import UserError
from sdanet_gui.sdanet.checkpoint import (CheckpointMeta, check_compatible, data_fingerprint,
                                          load_checkpoint, save_checkpoint, state_hash)
from sdanet_gui.sdanet.config import SDANetConfig, apply_overrides
from sdanet_gui.sdanet.network import SDANet
from sdanet_gui.sdanet.predict import load_model, predict_feature_set, score_features

torch.set_num_threads(1)  # 2 shared cores: one thread avoids OpenMP spin contention

TINY = ["model.hidden_dim=16", "model.sda_heads=2", "model.attention_hidden=8",
        "model.sda_ffn_dim=16", "model.pfm_proj_dim=8"]


def _feature_set(classes=("jump", "run", "throw"), dims=(8, 8), n=6, seed=0) -> FeatureSet:
    spec = FeatureSpec(modalities=(("rgb", dims[0]), ("flow", dims[1])))
    rng = np.random.default_rng(seed)
    videos = []
    for i in range(n):
        t = int(rng.integers(30, 80))
        x = rng.normal(size=(t, sum(dims))).astype(np.float32)
        ann = VideoAnnotation(f"video_{i}", "test", t * spec.snippet_seconds,
                              [Segment(classes[i % len(classes)], 2.0, 6.0)])
        videos.append(FeatureVideo(ann.name, ann, (lambda x=x: x), t))
    return FeatureSet(spec, list(classes), videos, "train", "test", source="memory")


def _model_and_meta(fs: FeatureSet):
    cfg = apply_overrides(SDANetConfig(), TINY)
    torch.manual_seed(3)
    model = SDANet(cfg, fs.spec, len(fs.classes)).eval()
    meta = CheckpointMeta(classes=list(fs.classes), spec=fs.spec.to_dict(), config=cfg.to_dict(),
                          data_fingerprint="abc", metrics={"val": {"average_mAP": 0.5}}, step=7)
    return model, meta


def test_saved_checkpoint_predicts_the_same_segments_after_loading(tmp_path):
    fs = _feature_set()
    model, meta = _model_and_meta(fs)
    before = predict_feature_set(model, fs, "test", meta=meta)
    path = tmp_path / "model.pt"
    save_checkpoint(path, model.state_dict(), meta)
    assert not list(tmp_path.glob(".*tmp")), "the temporary file must be renamed away"

    loaded, meta2 = load_model(path, "cpu")
    assert state_hash(loaded.state_dict()) == state_hash(model.state_dict())
    assert meta2.classes == fs.classes and meta2.step == 7 and meta2.metrics["val"]["average_mAP"] == 0.5
    assert meta2.feature_spec == fs.spec and meta2.config == meta.config
    after = predict_feature_set(path, fs, "test")
    assert before.keys() == after.keys() and sum(map(len, before.values())) > 0
    for name in before:
        assert [(s.label, s.start, s.end, s.score) for s in before[name]] == \
               [(s.label, s.start, s.end, s.score) for s in after[name]]
    x = fs.videos[0].features()
    np.testing.assert_array_equal(score_features(model, x).cas, score_features(loaded, x).cas)


def test_checkpoint_for_other_classes_or_dims_is_refused_naming_both_sides(tmp_path):
    fs = _feature_set()
    model, meta = _model_and_meta(fs)
    path = tmp_path / "model.pt"
    save_checkpoint(path, model.state_dict(), meta)

    other_classes = _feature_set(classes=("jump", "run", "swim"))
    with pytest.raises(UserError) as err:
        predict_feature_set(path, other_classes, "test")
    msg = str(err.value)
    assert str(path) in msg and "3 classes" in msg and "swim" in msg and "throw" in msg

    other_dims = _feature_set(dims=(8, 12))
    with pytest.raises(UserError) as err:
        check_compatible(load_checkpoint(path)[1], other_dims.classes, other_dims.spec, path=path)
    msg = str(err.value)
    assert str(path) in msg and "16 dims" in msg and "20 dims" in msg and "flow 12" in msg

    reordered = _feature_set(classes=("run", "jump", "throw"))
    with pytest.raises(UserError, match="another order"):
        check_compatible(meta, reordered.classes, reordered.spec, path=path)


def test_damaged_foreign_or_missing_files_are_refused_without_unpickling(tmp_path):
    fs = _feature_set()
    model, meta = _model_and_meta(fs)
    good = tmp_path / "good.pt"
    save_checkpoint(good, model.state_dict(), meta)

    truncated = tmp_path / "truncated.pt"
    truncated.write_bytes(good.read_bytes()[:1000])
    with pytest.raises(UserError, match="not a readable SDANet checkpoint"):
        load_checkpoint(truncated)

    class Evil:  # unpickling this would run code; weights_only must refuse it
        def __reduce__(self):
            return (print, ("pwned",))

    evil = tmp_path / "evil.pt"
    torch.save({"format": "sdanet-checkpoint", "x": Evil()}, evil)
    with pytest.raises(UserError, match="evil.pt"):
        load_checkpoint(evil)

    foreign = tmp_path / "foreign.pt"
    torch.save({"weights": torch.zeros(3)}, foreign)
    with pytest.raises(UserError, match="not an SDANet checkpoint"):
        load_checkpoint(foreign)

    with pytest.raises(UserError, match="not found"):
        load_checkpoint(tmp_path / "missing.pt")


def test_a_save_that_fails_midway_leaves_the_previous_checkpoint_intact(tmp_path, monkeypatch):
    fs = _feature_set()
    model, meta = _model_and_meta(fs)
    path = tmp_path / "model.pt"
    save_checkpoint(path, model.state_dict(), meta)
    before = path.read_bytes()

    def disk_full_halfway(obj, f, *a, **k):  # writes some bytes, then the disk is full
        with open(f, "wb") as fh:
            fh.write(b"partial")
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(torch, "save", disk_full_halfway)
    with pytest.raises(UserError, match="disk is full"):
        save_checkpoint(path, model.state_dict(), meta)
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["model.pt"]


def test_data_fingerprint_depends_on_names_shapes_and_labels_not_order():
    labels = np.array([[1, 0], [0, 1]], dtype=np.float32)
    a = data_fingerprint(["a", "b"], [(10, 4), (12, 4)], labels)
    assert a == data_fingerprint(["b", "a"], [(12, 4), (10, 4)], labels[::-1])
    assert a != data_fingerprint(["a", "b"], [(10, 4), (13, 4)], labels)
    assert a != data_fingerprint(["a", "b"], [(10, 4), (12, 4)], labels[::-1])
    assert a != data_fingerprint(["a", "c"], [(10, 4), (12, 4)], labels)


def test_a_version_1_checkpoint_loads_and_scores_as_it_was_measured():
    """The bundled demo checkpoint was written before config version 2 (plain conv embedding,
    full-width MTFF and SDA, nn.MultiheadAttention's weights): it must load into that layout
    and give the demo videos the average mAP that model/demo.json recorded when it was built."""
    import json

    from sdanet_gui.bundled import model_files, resource_files
    from sdanet_gui.data.feature_sets import load_feature_set
    from sdanet_gui.sdanet.evaluation import THUMOS_TIOUS, detection_map
    from sdanet_gui.sdanet.predict import load_model, predict_feature_set

    from sdanet_gui.sdanet.device import choose_device

    ckpt = model_files() / "demo.pt"
    model, meta = load_model(ckpt, choose_device("cpu", precision="fp32"))   # as it was measured
    assert "version" not in meta.config
    assert model.cfg.model.embedding == "conv" and model.cfg.version == 1
    assert model.cfg.loss.suppress_min == "time" and model.cfg.train.resample == "pad"
    fs = load_feature_set(resource_files() / "demo")
    preds = predict_feature_set(model, fs, "demo", meta=meta, device=choose_device("cpu", precision="fp32"))
    res = detection_map(fs.annotations("demo"), preds, THUMOS_TIOUS)
    recorded = json.loads((model_files() / "demo.json").read_text())["demo_average_mAP"]
    assert round(float(res.average_map), 4) == recorded
