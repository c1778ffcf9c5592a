"""SDANet's losses: finite in edge cases, blind to padding, honest about unknown snippets, and a
short optimisation that really lowers the MIL loss on synthetic videos."""

from __future__ import annotations

import numpy as np
import torch

from sdanet_gui.data.synthetic import make_synthetic
from sdanet_gui.data.units import FeatureSpec
from sdanet_gui.sdanet.config import SDANetConfig, apply_overrides, apply_without
from sdanet_gui.sdanet.losses import (compute_losses, mil_loss, pfm_split, snippet_loss, topk_pool)
from sdanet_gui.sdanet.network import SDANet, SDANetOutput

torch.set_num_threads(1)  # 2 threads under CPU contention make tiny convs ~50x slower

SMALL = ["model.hidden_dim=32", "model.attention_hidden=16", "model.sda_ffn_dim=64", "model.sda_heads=4",
         "model.pfm_proj_dim=16"]
STEPS = 80
SPEC = FeatureSpec(25.0, 16, 16, (("rgb", 12), ("flow", 10)))


def small_cfg(*extra: str) -> SDANetConfig:
    return apply_overrides(SDANetConfig(), SMALL + list(extra))


def test_topk_pool_uses_k_from_the_valid_length_only():
    cas = torch.zeros(2, 30, 2)
    cas[0, :14, 0] = torch.arange(14, dtype=torch.float32)     # valid length 14 -> k = 2
    cas[0, 14:, 0] = 100.0                                      # padding must be ignored
    cas[1, :, 0] = torch.arange(30, dtype=torch.float32)        # valid 30 -> k = 4
    mask = torch.ones(2, 30, dtype=torch.bool)
    mask[0, 14:] = False
    pooled = topk_pool(cas, mask, 7.0)
    assert pooled[0, 0].item() == (13 + 12) / 2
    assert pooled[1, 0].item() == (29 + 28 + 27 + 26) / 4
    # T = 1: k = 1
    assert topk_pool(torch.full((1, 1, 3), 2.0), torch.ones(1, 1, dtype=torch.bool), 7.0).tolist() == [[2.0] * 3]


def test_mil_loss_prefers_the_right_class():
    labels = torch.tensor([[0.0, 1.0, 0.0]])
    mask = torch.ones(1, 10, dtype=torch.bool)
    good = torch.zeros(1, 10, 4)
    good[0, :3, 1] = 5.0
    good[0, :, 3] = 5.0           # background everywhere (label 1 for the raw CAS)
    bad = torch.zeros(1, 10, 4)
    bad[0, :3, 2] = 5.0
    assert mil_loss(good, labels, mask, 7.0, 1.0) < mil_loss(bad, labels, mask, 7.0, 1.0)


def _two_videos(seed=0):
    g = torch.Generator().manual_seed(seed)
    a, b = torch.randn(30, 22, generator=g), torch.randn(18, 22, generator=g)
    labels = torch.tensor([[1.0, 0.0, 0.0], [1.0, 0.0, 1.0]])
    return a, b, labels


def _padded(videos, t):
    x = torch.full((len(videos), t, videos[0].shape[1]), 3.0)  # garbage in the padding
    mask = torch.zeros(len(videos), t, dtype=torch.bool)
    for i, v in enumerate(videos):
        x[i, :len(v)] = v
        mask[i, :len(v)] = True
    return x, mask


def test_losses_do_not_depend_on_padding():
    torch.manual_seed(0)
    cfg = small_cfg("train.same_class_pairs=1", "model.pfm_tau_a=0.5", "model.pfm_tau_b=0.5")
    net = SDANet(cfg, SPEC, 3).eval()
    a, b, labels = _two_videos()
    results = []
    for t in (30, 45):
        x, mask = _padded([a, b], t)
        out = net(x, mask)
        results.append(compute_losses(out, {"features": x, "mask": mask, "labels": labels}, cfg))
    assert set(results[0]) == set(results[1])
    for name in results[0]:
        torch.testing.assert_close(results[0][name], results[1][name], atol=1e-5, rtol=1e-4, msg=name)


def test_losses_finite_in_edge_cases():
    torch.manual_seed(0)
    cfg = small_cfg("loss.snippet=1.0", "train.same_class_pairs=3")
    net = SDANet(cfg, SPEC, 3)
    # T = 1, two videos without a shared class, all snippet targets unknown
    x = torch.randn(2, 1, 22)
    batch = {"features": x, "mask": torch.ones(2, 1, dtype=torch.bool),
             "labels": torch.tensor([[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]]),
             "snippet_targets": torch.full((2, 1), -1, dtype=torch.long)}
    losses = compute_losses(net(x, batch["mask"]), batch, cfg)
    assert all(torch.isfinite(v) for v in losses.values()), losses
    assert losses["co_activity"].item() == 0.0       # no same-class pair in this batch
    assert losses["snippet"].item() == 0.0           # nothing reviewed, nothing learned
    losses["total"].backward()
    # a single video (no pair at all) and a single modality
    spec1 = FeatureSpec(25.0, 16, 16, (("features", 7),))
    net1 = SDANet(cfg, spec1, 2)
    x1 = torch.randn(1, 5, 7)
    b1 = {"features": x1, "mask": torch.ones(1, 5, dtype=torch.bool), "labels": torch.tensor([[0.0, 1.0]])}
    l1 = compute_losses(net1(x1), b1, cfg)
    assert "similarity" not in l1                    # needs two modalities
    assert all(torch.isfinite(v) for v in l1.values())


def test_unknown_snippets_are_never_treated_as_background():
    torch.manual_seed(0)
    cfg = small_cfg()
    net = SDANet(cfg, SPEC, 3)
    x = torch.randn(1, 20, 22)
    out = net(x)
    out.attention.retain_grad()
    targets = torch.full((1, 20), -1, dtype=torch.long)
    targets[0, 4:8] = 2      # class 1, reviewed
    targets[0, 12:14] = 0    # background, reviewed
    loss = snippet_loss(out, targets, torch.ones(1, 20, dtype=torch.bool))
    loss.backward()
    g = out.attention.grad[0]
    known = (targets[0] >= 0)
    assert (g[~known] == 0).all()
    assert (g[4:8] < 0).all() and (g[12:14] > 0).all()   # raise fg attention, lower bg attention


def _fake_output(rgb, flow):
    rgb, flow = torch.tensor([rgb]), torch.tensor([flow])
    t = rgb.shape[1]
    return SDANetOutput(cas=torch.zeros(1, t, 3), attention=(rgb + flow) / 2,
                        modality_attention={"rgb": rgb, "flow": flow}, features=torch.zeros(1, t, 4),
                        modality_features={}, inputs={}, mask=torch.ones(1, t, dtype=torch.bool))


def test_pfm_split_mines_potential_action_and_background_from_ambiguous_snippets():
    rgb = [0.9, 0.8, 0.1, 0.2, 0.7, 0.6, 0.4, 0.45, 0.3, 0.55]
    flow = [0.9, 0.7, 0.1, 0.1, 0.3, 0.2, 0.6, 0.35, 0.2, 0.4]
    split = pfm_split(_fake_output(rgb, flow), torch.ones(1, 10, dtype=torch.bool), 0.5, 0.5, 0.25, 8)
    idx = {k: torch.nonzero(v[0]).flatten().tolist() for k, v in split.items()}
    assert idx["action"] == [0, 1]
    assert idx["background"] == [2, 3, 7, 8]
    assert idx["ambiguous"] == [4, 5, 6, 9]
    # n = round(0.25 * 4) = 1: highest fused attention (4: 0.5) and lowest (5: 0.4, 6: 0.5 -> 5)
    assert idx["potential_action"] in ([4], [6])
    assert idx["potential_background"] == [5]


def test_pfm_loss_pulls_potential_actions_toward_the_action_prototype():
    """Moving a potential-action embedding onto the action prototype lowers the PFM loss."""
    cfg = small_cfg("model.pfm_potential_ratio=0.5")
    rgb = [0.9, 0.9, 0.7, 0.3, 0.1, 0.1]
    flow = [0.9, 0.9, 0.3, 0.2, 0.1, 0.1]
    out = _fake_output(rgb, flow)
    from sdanet_gui.sdanet.losses import pfm_loss
    act, bg = torch.tensor([1.0, 0.0, 0.0]), torch.tensor([0.0, 1.0, 0.0])
    far = torch.stack([act, act, bg, bg, bg, bg])[None]
    near = torch.stack([act, act, act, bg, bg, bg])[None]
    losses = []
    for emb in (far, near):
        out.pfm_embedding = emb + 0.01
        losses.append(pfm_loss(out, out.mask, cfg).item())
    assert losses[1] < losses[0]


def test_switching_a_module_off_removes_its_loss_term():
    cfg = apply_without(small_cfg(), "pfm,similarity,reconstruction")
    net = SDANet(cfg, SPEC, 3)
    a, b, labels = _two_videos()
    x, mask = _padded([a, b], 30)
    losses = compute_losses(net(x, mask), {"features": x, "mask": mask, "labels": labels}, cfg)
    assert set(losses) == {"mil", "mil_supp", "co_activity", "norm", "guide", "mutual", "total"}
    cfg0 = apply_overrides(cfg, ["loss.guide=0"])
    assert "guide" not in compute_losses(net(x, mask), {"features": x, "mask": mask, "labels": labels}, cfg0)


def test_a_short_optimisation_lowers_the_mil_loss_on_synthetic_videos():
    torch.manual_seed(0)
    fs = make_synthetic(seed=1, num_classes=3, dim=16, train_videos=8, test_videos=0,
                        min_snippets=30, max_snippets=50)
    videos = fs.by_subset("train")
    t = max(v.num_snippets for v in videos)
    x, mask = _padded([torch.from_numpy(np.array(v.features())) for v in videos], t)
    batch = {"features": x, "mask": mask, "labels": torch.from_numpy(fs.label_matrix(videos))}
    cfg = small_cfg("model.dropout=0.1", "model.classifier_dropout=0.1")
    net = SDANet(cfg, fs.spec, 3)
    opt = torch.optim.Adam(net.parameters(), lr=1e-3)
    first = None
    for step in range(STEPS):
        losses = compute_losses(net(x, mask), batch, cfg)
        opt.zero_grad()
        losses["total"].backward()
        opt.step()
        if first is None:
            first = losses["mil"].item()
    net.eval()
    with torch.no_grad():
        last = compute_losses(net(x, mask), batch, cfg)["mil"].item()
    # The raw-CAS MIL target spreads its mass over the video's classes and background, so its
    # floor is the target's entropy, not 0: ask for most of the excess above it to be gone.
    target = torch.cat([batch["labels"], torch.ones(len(videos), 1)], dim=1)
    target = target / (target.sum(1, keepdim=True) + 1e-4)
    floor = -(target * target.clamp_min(1e-12).log()).sum(1).mean().item()
    assert last - floor < 0.3 * (first - floor), (first, last, floor)


def test_suppressed_mil_cannot_be_met_by_shifting_cas_channels_only_by_the_attention():
    """Floor over time (version-1 configs): with attention 0 the suppressed CAS is each class's
    minimum over time, a constant: the suppressed MIL must then give the raw CAS no gradient
    (it once flowed through the minimum, letting the loss lower the background channel's floor
    instead of moving the attention) and must push the attention up where the labelled class
    is active."""
    from sdanet_gui.sdanet.network import suppress

    torch.manual_seed(0)
    cas = torch.randn(2, 12, 4)
    cas[0, 3:6, 1] += 5.0                           # video 0, class 1 active on snippets 3-5
    cas.requires_grad_(True)
    atn = torch.zeros(2, 12, requires_grad=True)
    mask = torch.ones(2, 12, dtype=torch.bool)
    mask[1, 9:] = False
    supp = suppress(cas, atn, mask, "time")
    low = cas.detach().masked_fill(~mask.unsqueeze(-1), 1e9).amin(dim=1, keepdim=True)
    torch.testing.assert_close(supp[mask], low.expand_as(supp)[mask])   # values unchanged
    labels = torch.tensor([[0.0, 1.0, 0.0], [1.0, 0.0, 0.0]])
    mil_loss(supp, labels, mask, 4.0, 0.0).backward()
    assert cas.grad is None or (cas.grad == 0).all()
    half = torch.full((2, 12), 0.5, requires_grad=True)
    mil_loss(suppress(cas, half, mask, "time"), labels, mask, 4.0, 0.0).backward()
    assert (half.grad[0, 3:6] < 0).all()           # raise attention where the class fires


def test_family_suppression_floors_each_snippet_at_its_least_likely_class():
    """The family's floor ("classes", CO2-Net/DELU): attention 0 flattens a snippet's class logits to
    their minimum over classes; attention 1 keeps them; the suppressed MIL raises the attention
    where the labelled class fires."""
    from sdanet_gui.sdanet.network import suppress

    torch.manual_seed(0)
    cas = torch.randn(2, 12, 4)
    cas[0, 3:6, 1] += 5.0
    mask = torch.ones(2, 12, dtype=torch.bool)
    low = cas.amin(dim=-1, keepdim=True)
    torch.testing.assert_close(suppress(cas, torch.zeros(2, 12), mask, "classes"), low.expand_as(cas))
    torch.testing.assert_close(suppress(cas, torch.ones(2, 12), mask, "classes"), cas)
    half = torch.full((2, 12), 0.5, requires_grad=True)
    labels = torch.tensor([[0.0, 1.0, 0.0], [1.0, 0.0, 0.0]])
    mil_loss(suppress(cas, half, mask, "classes"), labels, mask, 4.0, 0.0).backward()
    assert (half.grad[0, 3:6] < 0).all()
