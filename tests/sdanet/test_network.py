"""SDANet's network: shapes for any modalities/dims/classes, padding invariance, gradients to
every block, and module switches that really remove their parameters."""

from __future__ import annotations

import pytest
import torch

from sdanet_gui.data.units import FeatureSpec
from sdanet_gui.sdanet.config import MODULE_NAMES, SDANetConfig, apply_overrides, apply_without
from sdanet_gui.sdanet.losses import compute_losses
from sdanet_gui.sdanet.network import SDANet

torch.set_num_threads(1)  # 2 threads under CPU contention make tiny convs ~50x slower

SMALL = ["model.hidden_dim=32", "model.attention_hidden=16", "model.sda_ffn_dim=64", "model.sda_heads=4",
         "model.pfm_proj_dim=16", "model.mtff_dilations=1,2,4"]


def small_cfg(*extra: str) -> SDANetConfig:
    return apply_overrides(SDANetConfig(), SMALL + list(extra))


def spec_of(*dims: int) -> FeatureSpec:
    names = ("rgb", "flow") if len(dims) == 2 else tuple(f"m{i}" for i in range(len(dims)))
    return FeatureSpec(25.0, 16, 16, tuple(zip(names, dims)))


@pytest.mark.parametrize("t,dims,classes,without", [
    (1, (16, 16), 3, None),
    (37, (8,), 1, None),
    (50, (24, 8, 12), 4, None),
    (23, (16, 16), 2, "all"),
    (9, (5,), 6, "sda,pfm"),
])
def test_output_shapes_for_any_modalities_dims_and_classes(t, dims, classes, without):
    cfg = apply_without(small_cfg(), without)
    spec = spec_of(*dims)
    net = SDANet(cfg, spec, classes).eval()
    x = torch.randn(3, t, sum(dims))
    out = net(x)
    assert out.cas.shape == (3, t, classes + 1)
    assert out.attention.shape == (3, t)
    # the gated embedding keeps each stream at its input's width
    assert out.features.shape == (3, t, sum(dims))
    assert set(out.modality_attention) == set(spec.modality_names)
    for name, d in spec.modalities:
        assert out.modality_attention[name].shape == (3, t)
        assert out.modality_features[name].shape == (3, t, d)
        if cfg.modules.reconstruction:
            assert out.reconstruction[name].shape == (3, t, d)
    assert out.reconstruction is None or cfg.modules.reconstruction
    assert (out.attention >= 0).all() and (out.attention <= 1).all()
    torch.testing.assert_close(out.attention, torch.stack(list(out.modality_attention.values())).mean(0))
    assert (out.pfm_embedding is not None) == cfg.modules.pfm
    with pytest.raises(ValueError, match="expects features"):
        net(torch.randn(1, t, sum(dims) + 1))


@pytest.mark.parametrize("extra", [[], ["train.smoothing_kernel=5"],
                                   ["model.sda_window=3", "model.sda_layer_scale=0.1", "model.sda_layers=2"],
                                   ["model.sda_pre_norm=false", "model.sda_forward_difference=true"]])
def test_padding_does_not_change_valid_snippets(extra):
    """A video alone and the same video padded inside a batch give identical outputs (eval)."""
    torch.manual_seed(0)
    cfg = small_cfg(*extra)
    net = SDANet(cfg, spec_of(12, 10), 3).eval()
    a = torch.randn(1, 20, 22)
    b = torch.randn(1, 35, 22)
    alone = net(a)
    batch = torch.zeros(2, 35, 22)
    batch[0, :20] = a[0]
    batch[0, 20:] = 7.0  # garbage in the padding must not leak into valid snippets
    batch[1] = b[0]
    mask = torch.zeros(2, 35, dtype=torch.bool)
    mask[0, :20] = True
    mask[1] = True
    padded = net(batch, mask)
    torch.testing.assert_close(padded.cas[0, :20], alone.cas[0], atol=1e-5, rtol=1e-4)
    torch.testing.assert_close(padded.attention[0, :20], alone.attention[0], atol=1e-5, rtol=1e-4)
    torch.testing.assert_close(padded.features[0, :20], alone.features[0], atol=1e-5, rtol=1e-4)
    for name in alone.reconstruction:
        torch.testing.assert_close(padded.reconstruction[name][0, :20], alone.reconstruction[name][0],
                                   atol=1e-5, rtol=1e-4)
    assert (padded.attention[0, 20:] == 0).all()
    # and the second video is unaffected by the first one
    torch.testing.assert_close(padded.cas[1], net(b).cas[0], atol=1e-5, rtol=1e-4)


def _batch(b=8, t=40, dims=(12, 12), classes=4, seed=0):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(b, t, sum(dims), generator=g)
    mask = torch.ones(b, t, dtype=torch.bool)
    mask[3, t // 2:] = False
    labels = torch.zeros(b, classes)
    labels[torch.arange(b), torch.arange(b) // 2 % classes] = 1.0  # pairs (0,1), (2,3), ... share a class
    return {"features": x, "mask": mask, "labels": labels}


def _pfm_thresholds_from(net, batch):
    """Thresholds that give the untrained net a non-empty action / background / ambiguous split."""
    with torch.no_grad():
        out = net(batch["features"], batch["mask"])
    t = out.attention[batch["mask"]].median().item()
    return [f"model.pfm_tau_a={t:.6f}", f"model.pfm_tau_b={t:.6f}"]


def test_every_block_and_every_loss_receives_gradient():
    torch.manual_seed(0)
    batch = _batch()
    spec = spec_of(12, 12)
    probe = SDANet(small_cfg(), spec, 4)
    cfg = small_cfg(*_pfm_thresholds_from(probe, batch), "loss.snippet=1.0", "train.same_class_pairs=3")
    net = SDANet(cfg, spec, 4)
    net.load_state_dict(probe.state_dict())
    targets = torch.full(batch["mask"].shape, -1, dtype=torch.long)
    targets[0, :5] = 0
    targets[0, 5:10] = 1
    out = net(batch["features"], batch["mask"])
    losses = compute_losses(out, {**batch, "snippet_targets": targets}, cfg)
    expected = {"mil", "mil_supp", "co_activity", "norm", "guide", "mutual", "similarity", "reconstruction",
                "pfm", "snippet", "total"}
    assert set(losses) == expected
    for name, value in losses.items():
        assert torch.isfinite(value), name
        if name != "total":
            assert value.item() > 0, f"{name} is zero: the test would not see its gradient"
    losses["total"].backward()
    silent = [n for n, p in net.named_parameters() if p.grad is None or not p.grad.abs().sum() > 0]
    assert silent == []
    # each loss on its own reaches the blocks it is meant to train
    for term, blocks in (("pfm", ["pfm.", "head.fusion", "streams.rgb.sda", "streams.flow.mtff"]),
                         ("reconstruction", ["streams.rgb.decoder", "streams.flow.sda", "streams.rgb.mtff"]),
                         ("mutual", ["streams.rgb.attention", "streams.flow.embedding"]),
                         ("similarity", ["streams.rgb.embedding", "streams.flow.sda"])):
        net.zero_grad()
        out = net(batch["features"], batch["mask"])
        compute_losses(out, batch, cfg)[term].backward()
        for prefix in blocks:
            grads = [p.grad for n, p in net.named_parameters() if n.startswith(prefix)]
            assert grads and any(g is not None and g.abs().sum() > 0 for g in grads), (term, prefix)


PARAM_PREFIX = {"mtff": ".mtff.", "sda": ".sda.", "pfm": "pfm.", "reconstruction": ".decoder."}


@pytest.mark.parametrize("module", MODULE_NAMES)
def test_without_a_module_removes_its_parameters_and_its_loss(module):
    batch = _batch()
    spec = spec_of(12, 12)
    full_cfg, cut_cfg = small_cfg(), apply_without(small_cfg(), module)
    full, cut = SDANet(full_cfg, spec, 4), SDANet(cut_cfg, spec, 4)
    names = [n for n, _ in cut.named_parameters()]
    if module in PARAM_PREFIX:
        assert any(PARAM_PREFIX[module] in n for n, _ in full.named_parameters())
        assert not any(PARAM_PREFIX[module] in n for n in names)
        assert sum(p.numel() for p in cut.parameters()) < sum(p.numel() for p in full.parameters())
    else:  # similarity is a loss only
        assert names == [n for n, _ in full.named_parameters()]
    losses = compute_losses(cut(batch["features"], batch["mask"]), batch, cut_cfg)
    if module != "mtff" and module != "sda":
        assert module not in losses
    assert torch.isfinite(losses["total"])


def test_all_modules_off_is_the_plain_baseline():
    cfg = apply_without(small_cfg(), "all")
    net = SDANet(cfg, spec_of(12, 12), 4)
    blocks = {n.split(".")[0] if n.startswith("head") else ".".join(n.split(".")[:3])
              for n, _ in net.named_parameters()}
    assert blocks == {"head", "streams.rgb.embedding", "streams.rgb.attention",
                      "streams.flow.embedding", "streams.flow.attention"}
    batch = _batch()
    losses = compute_losses(net(batch["features"], batch["mask"]), batch, cfg)
    assert set(losses) == {"mil", "mil_supp", "co_activity", "norm", "guide", "mutual", "total"}
