"""SDANet: the network that turns snippet features into class activations and foreground attention.

Wiring (per modality m of the `FeatureSpec`, e.g. rgb and flow; any number >= 1, any dims):
  x_m [B, T, D_m] -> embedding -> [MTFF] -> [SDA] -> enhanced f_m [B, T, H_m]
  f_m -> attention head -> a_m [B, T] in [0, 1]            (modality_attention[m])
  f_m -> [reconstruction decoder] -> x_hat_m [B, T, D_m]   (reconstruction[m])
  attention = mean_m a_m                                    [B, T]
  concat_m f_m [B, T, F] -> 1x1 fusion -> features [B, T, F = sum_m H_m] -> classifier conv(k3)
                                                          -> cas [B, T, C+1] (last = background)
  features -> [PFM projection] -> pfm_embedding [B, T, P]
The embedding is CO2-Net's gated filter of the input by the other modalities (`model.embedding`
"gate", H_m = D_m) or a plain conv to `model.hidden_dim` ("conv", the layout of checkpoints made
before config version 2). Bracketed parts are switched by `cfg.modules`; with all five off the
model is CO2-Net (its layers, widths, dropouts and initialisation). The similarity switch adds
no parameters (it is a loss only). `cfg.train.smoothing_kernel` > 1 smooths cas and attentions
with a masked average pool (the family's ActivityNet setting).

What this module must never do: compute losses, pick a device, or know about files. The losses
live in `losses.py`, the device in the trainer.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass, field

import torch
from torch import Tensor, nn

from ..data.units import FeatureSpec
from .config import SDANetConfig
from .modules import (MTFF, SDA, AttentionHead, ClassificationHead, DifferenceAttention, GatedEmbedding,
                      ModalityEmbedding, ProjectionHead, ReconstructionDecoder, kaiming_bound, masked,
                      masked_smooth)


@dataclass
class SDANetOutput:
    """What one forward pass returns. B videos, T snippets, C classes, M modalities.

    cas                 [B, T, C+1] class activation logits; channel C is background
    attention           [B, T] fused foreground attention in [0, 1] (mean over modalities)
    modality_attention  name -> [B, T] per-modality attention in [0, 1]
    features            [B, T, F] fused enhanced features (F = M * hidden_dim)
    modality_features   name -> [B, T, H] enhanced features of each modality
    inputs              name -> [B, T, D_m] the input features of each modality (masked)
    reconstruction      name -> [B, T, D_m] decoded input features, None when switched off
    pfm_embedding       [B, T, P] PFM projection of `features`, None when PFM is off
    mask                [B, T] bool, valid snippets
    """

    cas: Tensor
    attention: Tensor
    modality_attention: dict[str, Tensor]
    features: Tensor
    modality_features: dict[str, Tensor]
    inputs: dict[str, Tensor]
    mask: Tensor
    reconstruction: dict[str, Tensor] | None = None
    pfm_embedding: Tensor | None = None
    extras: dict = field(default_factory=dict)

    def suppressed_cas(self, over: str = "time") -> Tensor:
        """The attention-suppressed CAS (see `suppress`). [B, T, C+1]"""
        return suppress(self.cas, self.attention, self.mask, over)

    def detection_cas(self) -> Tensor:
        """The test-time CAS: softmax over classes times attention. [B, T, C+1]"""
        return torch.softmax(self.cas, dim=-1) * self.attention.unsqueeze(-1)


def suppress(cas: Tensor, attention: Tensor, mask: Tensor, over: str = "time") -> Tensor:
    """Attention-suppressed CAS: cas_supp = atn * (cas - low) + low. cas [B,T,K], attention
    [B,T], mask [B,T] -> [B,T,K]; padded snippets hold `low`.

    over "classes" (CO2-Net/DELU's `_multiply(include_min=True)`): low = each
    snippet's minimum over the C+1 classes, with gradient; a snippet with attention 0 has all
    its class logits at that minimum (a flat class distribution).
    over "time" (the default): low = each class's minimum over the video's
    valid snippets, detached (with a gradient through a minimum over time, the suppressed MIL
    was met by shifting whole CAS channels instead of moving the attention).
    """
    if over == "classes":
        low = cas.amin(dim=-1, keepdim=True)                                             # [B, T, 1]
        out = attention.unsqueeze(-1) * (cas - low) + low
        return torch.where(mask.unsqueeze(-1), out, low.expand_as(out))
    big = torch.finfo(cas.dtype).max
    low = cas.detach().masked_fill(~mask.unsqueeze(-1), big).amin(dim=1, keepdim=True)  # [B, 1, K]
    low = torch.where(torch.isfinite(low) & (low < big), low, torch.zeros_like(low))
    out = attention.unsqueeze(-1) * (cas - low) + low
    return torch.where(mask.unsqueeze(-1), out, low.expand_as(out))


def _layer_seed(base: int, name: str) -> int:
    """A seed for one named layer: stable across runs and Python versions (crc32, not hash())."""
    return (int(base) * 1_000_003 + zlib.crc32(name.encode("utf-8"))) % (2 ** 63 - 1)


class ModalityStream(nn.Module):
    """One modality's branch: embedding -> [MTFF] -> [SDA] -> attention head (+ decoder)."""

    def __init__(self, d_in: int, d_guide: int, cfg: SDANetConfig):
        super().__init__()
        m, on = cfg.model, cfg.modules
        w = m.widths(d_in)
        h = w["stream"]
        self.width = h
        if m.embedding == "gate":
            self.embedding = GatedEmbedding(d_in, d_guide, m.dropout)
        else:
            self.embedding = ModalityEmbedding(d_in, h, m.embed_kernel, m.dropout)
        self.mtff = MTFF(h, m.mtff_kernel, list(m.mtff_dilations), m.dropout, w["mtff"],
                         m.mtff_layer_scale) if on.mtff else None
        self.sda = SDA(h, m.sda_heads, m.sda_layers, w["sda_ffn"], m.sda_dropout,
                       m.sda_forward_difference, m.sda_attention_dropout, m.sda_pre_norm,
                       m.sda_window, m.sda_layer_scale, w["sda"], m.sda_raw_values) \
            if on.sda and m.sda_layers > 0 else None
        self.attention = AttentionHead(h, w["attention"], m.dropout, m.attention_logit_dropout)
        self.sda_to_attention = m.sda_to_attention
        self.decoder = ReconstructionDecoder(h, d_in, w["reconstruction"]) \
            if on.reconstruction else None

    def forward(self, x: Tensor, guide: Tensor, mask: Tensor | None) -> tuple[Tensor, Tensor, Tensor | None]:
        """x: [B, T, D_m], guide: the other modalities [B, T, D_g] ->
        (features [B, T, H], attention [B, T], reconstruction [B, T, D_m] or None)"""
        if isinstance(self.embedding, GatedEmbedding):
            h = self.embedding(x, guide, mask)
        else:
            h = self.embedding(x, mask)
        if self.mtff is not None:
            h = self.mtff(h, mask)
        before = h
        if self.sda is not None:
            h = self.sda(h, mask)
        atn = self.attention(h if self.sda_to_attention else before, mask)
        rec = self.decoder(h, mask) if self.decoder is not None else None
        return h, atn, rec


class SDANet(nn.Module):
    """SDANet(cfg, spec, num_classes); forward(x [B,T,D], mask [B,T] bool | None) -> SDANetOutput."""

    def __init__(self, cfg: SDANetConfig, spec: FeatureSpec, num_classes: int):
        super().__init__()
        if num_classes < 1:
            raise ValueError(f"SDANet needs at least one class, got {num_classes}")
        self.cfg = cfg
        self.spec = spec
        self.num_classes = int(num_classes)
        self.slices = spec.modality_slices()
        # Construction takes exactly one draw from torch's global generator, whatever the
        # modules: the layers' default initialisations below are replaced by
        # `reset_parameters(base)` and the generator is put back afterwards, so the dropout
        # masks of a training that follows do not depend on which modules exist either.
        base = int(torch.randint(0, 2 ** 62, (1,)).item())
        after = torch.random.get_rng_state()
        total = spec.feature_dim
        self.streams = nn.ModuleDict({
            name: ModalityStream(dim, total - dim if len(spec.modalities) > 1 else dim, cfg)
            for name, dim in spec.modalities})
        fused_dim = sum(s.width for s in self.streams.values())
        self.head = ClassificationHead(fused_dim, self.num_classes, cfg.model.fusion_dropout,
                                       cfg.model.classifier_dropout)
        self.pfm = ProjectionHead(fused_dim, cfg.model.pfm_proj_dim) if cfg.modules.pfm else None
        self.reset_parameters(base)
        torch.random.set_rng_state(after)

    def reset_parameters(self, base: int | None = None) -> None:
        """The family's initialisation (`model.init` "kaiming": kaiming_uniform_ with a = 0, i.e.
        U(+-sqrt(6 / fan_in)); "xavier": xavier_uniform_) and zero biases, LayerNorms and
        LayerScale gains as built; each layer's draw depends only on (base, its name).

        Why per-name: an ablation switches modules on and off, and with one shared generator
        every module added before a layer changed that layer's starting weights -- the
        baseline's layers started elsewhere in every row, which added init noise to each
        row's difference from the baseline (synthetic set, 200 steps, seed 0: + reconstruction,
        a loss whose gradient on the shared layers is 2-11 % of the MIL loss's, was 5.3 points
        below the baseline; paired, 1.7). Now the layers a configuration shares with another
        start identical for the same seed. `base` None draws it from torch's global generator.
        """
        if base is None:
            base = int(torch.randint(0, 2 ** 62, (1,)).item())
        kaiming = self.cfg.model.init == "kaiming"
        for name, mod in self.named_modules():
            weights = []
            if isinstance(mod, (nn.Conv1d, nn.Linear)):
                weights = [(mod.weight, mod.bias, getattr(mod, "init_fan_in", None))]
            elif isinstance(mod, DifferenceAttention):
                weights = [(mod.in_proj_weight, mod.in_proj_bias, None)]    # out_proj is a Linear
            for weight, bias, fan_in in weights:
                gen = torch.Generator(device=weight.device).manual_seed(_layer_seed(base, name))
                with torch.no_grad():
                    if kaiming:
                        fan = fan_in or weight[0].numel()
                        nn.init.uniform_(weight, -kaiming_bound(fan), kaiming_bound(fan), generator=gen)
                    else:
                        nn.init.xavier_uniform_(weight, generator=gen)
                    if bias is not None:
                        nn.init.zeros_(bias)

    @property
    def feature_dim(self) -> int:
        return self.spec.feature_dim

    def forward(self, x: Tensor, mask: Tensor | None = None) -> SDANetOutput:
        if x.dim() != 3 or x.shape[-1] != self.spec.feature_dim:
            raise ValueError(f"SDANet expects features [B, T, {self.spec.feature_dim}], got {list(x.shape)}")
        b, t, _ = x.shape
        if mask is None:
            mask = torch.ones(b, t, dtype=torch.bool, device=x.device)
        mask = mask.to(torch.bool)
        # Every snippet valid (the family's sampler, one whole video at test time): the blocks
        # skip all masking work and the attention needs no mask.
        inner = None if bool(mask.all()) else mask
        x = masked(x, inner)
        k = self.cfg.train.smoothing_kernel
        feats, atns, recs, inputs = {}, {}, {}, {}
        single = len(self.streams) == 1
        for name, stream in self.streams.items():
            sl = self.slices[name]
            xm = x[..., sl]
            guide = xm if single else torch.cat([x[..., :sl.start], x[..., sl.stop:]], dim=-1)
            h, a, r = stream(xm, guide, inner)
            inputs[name], feats[name] = xm, h
            atns[name] = masked_smooth(a.unsqueeze(-1), inner, k).squeeze(-1)
            if r is not None:
                recs[name] = r
        attention = torch.stack(list(atns.values()), dim=0).mean(dim=0)
        fused, cas = self.head(torch.cat(list(feats.values()), dim=-1), inner)
        cas = masked_smooth(cas, inner, k)
        emb = self.pfm(fused, inner) if self.pfm is not None else None
        return SDANetOutput(cas=cas, attention=attention, modality_attention=atns, features=fused,
                            modality_features=feats, inputs=inputs, mask=mask,
                            reconstruction=recs or None, pfm_embedding=emb)
