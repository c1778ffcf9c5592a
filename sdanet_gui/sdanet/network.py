"""SDANet: the network that turns snippet features into class activations and foreground attention.

Wiring (per modality m of the `FeatureSpec`, e.g. rgb and flow; any number >= 1, any dims):
  x_m [B, T, D_m] -> embedding conv(k) -> [MTFF] -> [SDA] -> enhanced f_m [B, T, H]
  f_m -> attention head -> a_m [B, T] in [0, 1]            (modality_attention[m])
  f_m -> [reconstruction decoder] -> x_hat_m [B, T, D_m]   (reconstruction[m])
  attention = mean_m a_m                                    [B, T]
  concat_m f_m [B, T, M*H] -> 1x1 fusion -> features [B, T, F=M*H] -> classifier conv(k3)
                                                          -> cas [B, T, C+1] (last = background)
  features -> [PFM projection] -> pfm_embedding [B, T, P]
Bracketed parts are switched by `cfg.modules`; with all five off the model is the CO2-Net-like
baseline (plain conv embedding + attention head per modality, the same heads). The similarity
switch adds no parameters (it is a loss only). `cfg.train.smoothing_kernel` > 1 smooths cas and
attentions with a masked average pool (the family's ActivityNet setting).

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
from .modules import (MTFF, SDA, AttentionHead, ClassificationHead, ModalityEmbedding,
                      ProjectionHead, ReconstructionDecoder, masked_smooth)


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

    def suppressed_cas(self) -> Tensor:
        """cas_supp = atn * (cas - min cas) + min cas, min over each video's valid snippets (detached).

        [B, T, C+1]; padded snippets hold the minimum.
        """
        return suppress(self.cas, self.attention, self.mask)

    def detection_cas(self) -> Tensor:
        """The test-time CAS: softmax over classes times attention. [B, T, C+1]"""
        return torch.softmax(self.cas, dim=-1) * self.attention.unsqueeze(-1)


def suppress(cas: Tensor, attention: Tensor, mask: Tensor) -> Tensor:
    """Attention-suppressed CAS. cas [B,T,K], attention [B,T], mask [B,T] -> [B,T,K].

    The per-class minimum over time is a constant (detached): with a gradient through it, the
    suppressed MIL (background label 0) was satisfied by lowering the raw background channel's
    minimum and raising the labelled class's -- shifting whole CAS channels instead of moving
    the attention. That flattened p_background everywhere, so the guide loss had nothing to
    teach and the attention never separated action from background (synthetic set, baseline,
    150 steps: attention AUC 0.66 -> 0.75 with the minimum detached).
    """
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

    def __init__(self, d_in: int, cfg: SDANetConfig):
        super().__init__()
        m, on = cfg.model, cfg.modules
        self.embedding = ModalityEmbedding(d_in, m.hidden_dim, m.embed_kernel, m.dropout)
        self.mtff = MTFF(m.hidden_dim, m.mtff_kernel, list(m.mtff_dilations), m.dropout) if on.mtff else None
        self.sda = SDA(m.hidden_dim, m.sda_heads, m.sda_layers, m.sda_ffn_dim, m.sda_dropout,
                       m.sda_forward_difference, m.sda_attention_dropout, m.sda_pre_norm,
                       m.sda_window, m.sda_layer_scale) \
            if on.sda and m.sda_layers > 0 else None
        self.attention = AttentionHead(m.hidden_dim, m.attention_hidden, m.dropout)
        self.decoder = ReconstructionDecoder(m.hidden_dim, d_in, m.reconstruction_hidden) \
            if on.reconstruction else None

    def forward(self, x: Tensor, mask: Tensor) -> tuple[Tensor, Tensor, Tensor | None]:
        """x: [B, T, D_m] -> (features [B, T, H], attention [B, T], reconstruction [B, T, D_m])"""
        h = self.embedding(x, mask)
        if self.mtff is not None:
            h = self.mtff(h, mask)
        if self.sda is not None:
            h = self.sda(h, mask)
        atn = self.attention(h, mask)
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
        self.streams = nn.ModuleDict({name: ModalityStream(dim, cfg) for name, dim in spec.modalities})
        fused_dim = cfg.model.hidden_dim * len(spec.modalities)
        self.head = ClassificationHead(fused_dim, self.num_classes, cfg.model.dropout,
                                       cfg.model.classifier_dropout)
        self.pfm = ProjectionHead(fused_dim, cfg.model.pfm_proj_dim) if cfg.modules.pfm else None
        self.reset_parameters(base)
        torch.random.set_rng_state(after)

    def reset_parameters(self, base: int | None = None) -> None:
        """Xavier-uniform weights and zero biases; each layer's draw depends only on (base, its name).

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
        for name, mod in self.named_modules():
            weights = []
            if isinstance(mod, (nn.Conv1d, nn.Linear)):
                weights = [(mod.weight, mod.bias)]
            elif isinstance(mod, nn.MultiheadAttention) and mod.in_proj_weight is not None:
                weights = [(mod.in_proj_weight, mod.in_proj_bias)]    # out_proj is a Linear
            for weight, bias in weights:
                gen = torch.Generator(device=weight.device).manual_seed(_layer_seed(base, name))
                with torch.no_grad():
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
        k = self.cfg.train.smoothing_kernel
        feats, atns, recs, inputs = {}, {}, {}, {}
        for name, stream in self.streams.items():
            xm = x[..., self.slices[name]] * mask.unsqueeze(-1).to(x.dtype)
            h, a, r = stream(xm, mask)
            inputs[name], feats[name] = xm, h
            atns[name] = masked_smooth(a.unsqueeze(-1), mask, k).squeeze(-1)
            if r is not None:
                recs[name] = r
        attention = torch.stack(list(atns.values()), dim=0).mean(dim=0)
        fused, cas = self.head(torch.cat(list(feats.values()), dim=-1), mask)
        cas = masked_smooth(cas, mask, k)
        emb = self.pfm(fused, mask) if self.pfm is not None else None
        return SDANetOutput(cas=cas, attention=attention, modality_attention=atns, features=fused,
                            modality_features=feats, inputs=inputs, mask=mask,
                            reconstruction=recs or None, pfm_embedding=emb)
