"""SDANet's config: presets hold the family's hyperparameters, --set / --without parse typed
values and refuse unknown names with close suggestions, and everything round-trips."""

from __future__ import annotations

import json

import pytest

from sdanet_gui.errors import UserError
from sdanet_gui.sdanet.config import (MODULE_NAMES, SDANetConfig, all_keys, apply_overrides, apply_with, apply_without,
                                      load_preset, preset_names)


def test_bundled_presets_hold_the_family_hyperparameters():
    assert {"thumos14", "activitynet1.2", "activitynet1.3"} <= set(preset_names())
    th = load_preset("thumos14")
    assert th.preset == "thumos14"
    assert (th.train.lr, th.train.weight_decay, th.train.batch_size, th.train.same_class_pairs) == (5e-5, 1e-3, 10, 3)
    assert (th.train.max_seqlen, th.train.iterations, th.train.topk_divisor) == (320, 5000, 7.0)
    assert (th.data.train_subset, th.data.test_subset, th.data.num_classes) == ("validation", "test", 20)
    assert (th.data.fps, th.data.snippet_frames) == (25.0, 16)
    assert th.eval.tiou_thresholds == [0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7]
    assert len(th.post.attention_thresholds) == 10
    an = load_preset("activitynet1.2")
    assert (an.train.lr, an.train.weight_decay, an.train.max_seqlen, an.train.iterations) == (3e-5, 5e-4, 60, 22000)
    assert (an.train.smoothing_kernel, an.data.train_subset, an.data.test_subset) == (13, "training", "validation")
    assert load_preset("activitynet1.3").data.num_classes == 200
    # thumos14 leaves off the modules that cost on I3D-like features (docs/ablation.md); the
    # presets without that evidence keep the paper's full method
    assert th.enabled_modules() == ["pfm", "similarity"]
    for name in set(preset_names()) - {"thumos14"}:
        assert load_preset(name).enabled_modules() == list(MODULE_NAMES)


def test_config_round_trips_through_dict_and_json():
    cfg = apply_without(apply_overrides(load_preset("thumos14"), ["model.mtff_dilations=1,3,9",
                                                                  "loss.snippet=0.5"]), "pfm")
    d = cfg.to_dict()
    again = SDANetConfig.from_dict(json.loads(json.dumps(d)))
    assert again == cfg
    assert again.model.mtff_dilations == [1, 3, 9] and again.modules.pfm is False
    # a partial dict keeps defaults; a newer checkpoint's extra keys are ignored only when asked
    assert SDANetConfig.from_dict({"train": {"lr": 0.01}}).train.batch_size == 10
    with pytest.raises(UserError, match="did you mean train.lr"):
        SDANetConfig.from_dict({"train": {"lrr": 0.01}})
    assert SDANetConfig.from_dict({"train": {"lrr": 0.01}, "extra": 1}, strict=False) == SDANetConfig()


def test_overrides_parse_each_type():
    cfg = apply_overrides(SDANetConfig(), [
        "train.lr=1e-4", "model.hidden_dim=256", "modules.sda=false", "model.mtff_dilations=[1, 2]",
        "post.attention_thresholds=0.2,0.5", "data.train_subset=train", "weight_decay=0",
        "data.modalities=[[\"features\", 300]]"])
    assert cfg.train.lr == 1e-4 and isinstance(cfg.train.lr, float)
    assert cfg.model.hidden_dim == 256 and isinstance(cfg.model.hidden_dim, int)
    assert cfg.modules.sda is False
    assert cfg.model.mtff_dilations == [1, 2]
    assert cfg.post.attention_thresholds == [0.2, 0.5]
    assert cfg.data.train_subset == "train"
    assert cfg.train.weight_decay == 0.0          # a bare leaf name that is unique
    assert cfg.feature_spec().modalities == (("features", 300),)
    assert SDANetConfig().train.lr == 5e-5        # the original is untouched


@pytest.mark.parametrize("item,message", [
    ("train.lrr=1", "unknown config key 'train.lrr'; did you mean train.lr"),
    ("topk_divisor=3", "did you mean train.topk_divisor, post.topk_divisor"),
    ("model.hidden_dim=2.5", "model.hidden_dim expects an integer"),
    ("modules.sda=maybe", "modules.sda expects true/false"),
    ("train.lr", "expected KEY=VALUE"),
    ("model.pfm_tau_b=0.9", "must not exceed model.pfm_tau_a"),
    ("model.sda_dim=30", "divisible by model.sda_heads"),
    ("model.embedding=mlp", "model.embedding must be one of gate, conv"),
    ("loss.pfm=-1", "loss.pfm must be >= 0"),
])
def test_bad_overrides_are_user_errors_that_say_what_is_wrong(item, message):
    with pytest.raises(UserError) as err:
        apply_overrides(SDANetConfig(), [item])
    assert message in str(err.value)


def test_without_switches_modules_off_and_refuses_unknown_names():
    cfg = apply_without(SDANetConfig(), "mtff, SDA")
    assert cfg.enabled_modules() == ["pfm", "similarity", "reconstruction"]
    assert apply_without(SDANetConfig(), "all").enabled_modules() == []
    assert apply_without(SDANetConfig(), ["pfm"]).modules.pfm is False
    with pytest.raises(UserError, match="unknown module 'mtf' \\(did you mean mtff\\?\\)"):
        apply_without(SDANetConfig(), "mtf")


def test_with_switches_modules_on_so_the_papers_full_method_is_one_flag_away():
    off = apply_without(SDANetConfig(), "all")
    assert apply_with(off, "sda, PFM").enabled_modules() == ["sda", "pfm"]
    for preset in ("thumos14", "activitynet1.2", "activitynet1.3"):
        assert apply_with(load_preset(preset), "all").enabled_modules() == list(MODULE_NAMES)
    with pytest.raises(UserError, match="--with: unknown module 'sdb'"):
        apply_with(off, "sdb")


def test_train_names_the_modules_a_preset_leaves_off_and_how_to_get_the_paper_back():
    from sdanet_gui.commands.train import describe_modules

    line = describe_modules(load_preset("thumos14"))
    assert line.startswith("preset thumos14: modules on: pfm, similarity; off: mtff, sda, reconstruction")
    assert "--with all" in line and "docs/ablation.md" in line
    assert describe_modules(apply_with(load_preset("thumos14"), "all")) == \
        "preset thumos14: modules on: mtff, sda, pfm, similarity, reconstruction"


def test_presets_by_path_and_unknown_presets(tmp_path):
    path = tmp_path / "mine.json"
    path.write_text(json.dumps({"train": {"iterations": 7}, "modules": {"pfm": False}}))
    cfg = load_preset(path)
    assert (cfg.train.iterations, cfg.modules.pfm, cfg.preset) == (7, False, "mine")
    with pytest.raises(UserError, match="unknown preset 'thumos' \\(did you mean thumos14"):
        load_preset("thumos")
    bad = tmp_path / "bad.json"
    bad.write_text("{ not json")
    with pytest.raises(UserError, match="bad.json: not valid JSON"):
        load_preset(bad)
    typo = tmp_path / "typo.json"
    typo.write_text(json.dumps({"modules": {"sdaa": False}}))
    with pytest.raises(UserError, match="typo.json: unknown config key modules.'sdaa'; did you mean modules.sda"):
        load_preset(typo)
    with pytest.raises(UserError, match="missing.json: preset file not found"):
        load_preset(tmp_path / "missing.json")


def test_every_key_can_be_set_from_its_own_value():
    """--set accepts the printed form of every current value (the CLI's round trip)."""
    cfg = SDANetConfig()
    flat = dict(_flatten(cfg.to_dict()))
    items = [f"{k}={json.dumps(v) if isinstance(v, list) else v}" for k, v in flat.items()]
    assert sorted(flat) == sorted(all_keys())
    assert apply_overrides(cfg, items) == cfg


def _flatten(d, prefix=""):
    for k, v in d.items():
        if isinstance(v, dict):
            yield from _flatten(v, f"{prefix}{k}.")
        else:
            yield f"{prefix}{k}", v


def test_a_version_1_config_reads_as_the_network_and_losses_it_described():
    """Checkpoints saved before config version 2 carry no `version` and none of the keys added
    since; `from_checkpoint` gives those keys the values that reproduce the old network and
    training (and reads the old similarity weight as attention MSE + weighted feature term)."""
    old = {"model": {"hidden_dim": 512, "dropout": 0.3}, "modules": {"similarity": True},
           "loss": {"similarity": 1.0, "similarity_feature_weight": 0.1}, "train": {"lr": 1e-3}}
    cfg = SDANetConfig.from_checkpoint(old)
    assert cfg.version == 1
    assert (cfg.model.embedding, cfg.model.init, cfg.model.mtff_width, cfg.model.sda_dim) == \
        ("conv", "xavier", -1, -1)
    assert cfg.model.fusion_dropout == 0.3 and cfg.model.attention_logit_dropout == 0.0
    assert (cfg.loss.mutual, cfg.loss.similarity) == (1.0, pytest.approx(0.1))
    assert (cfg.loss.suppress_min, cfg.train.resample) == ("time", "pad")
    off = SDANetConfig.from_checkpoint({**old, "modules": {"similarity": False}})
    assert off.loss.mutual == 0.0
    new = SDANetConfig.from_checkpoint(load_preset("thumos14").to_dict())
    assert new == load_preset("thumos14")


def test_widths_follow_the_input_and_the_rate_follows_the_widths():
    from sdanet_gui.data.units import FeatureSpec

    m = SDANetConfig().model
    assert m.widths(1024) == {"stream": 1024, "attention": 512, "mtff": 128, "sda": 128, "sda_ffn": 256,
                              "reconstruction": 128}
    assert (m.widths(256)["stream"], m.widths(256)["attention"], m.widths(256)["mtff"]) == (256, 128, 64)
    assert m.widths(48)["sda"] == 48                  # never wider than the stream
    fixed = apply_overrides(SDANetConfig(), ["model.embedding=conv", "model.hidden_dim=128",
                                             "model.mtff_width=-1"]).model
    assert fixed.widths(1024)["stream"] == 128 and fixed.widths(1024)["mtff"] == 128
    cfg = apply_overrides(SDANetConfig(), ["train.lr=5e-5", "train.lr_reference_width=1024"])
    spec = lambda d: FeatureSpec(modalities=(("rgb", d), ("flow", d)))  # noqa: E731
    assert cfg.effective_lr(spec(1024)) == pytest.approx(5e-5)
    assert cfg.effective_lr(spec(256)) == pytest.approx(2e-4)
    assert cfg.effective_lr(spec(2048)) == pytest.approx(5e-5)      # never scaled down
    assert SDANetConfig().effective_lr(spec(256)) == SDANetConfig().train.lr
