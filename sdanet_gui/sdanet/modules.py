"""The building blocks of SDANet, each one small and masked: embedding, MTFF, SDA, heads, decoder.

Why it exists: `network.py` wires these together per modality; keeping each block here with its
shapes documented lets the ablation switch blocks without touching the wiring.

Conventions: every block takes and returns channels-last tensors x: [B, T, D] plus a validity
mask: [B, T] bool (padded snippets at the end of shorter videos are False). Blocks zero the
padded snippets of their output, and temporal convolutions only ever see zeros there, so in eval
mode the outputs on valid snippets do not depend on how much padding follows them.
What a block must never do: look at padded snippets, move tensors between devices, or read the
config itself (sizes come in as arguments).
"""

from __future__ import annotations

import torch
from torch import Tensor, nn
from torch.nn import functional as F


def masked(x: Tensor, mask: Tensor) -> Tensor:
    """Zero padded snippets. x: [B, T, D], mask: [B, T] bool -> [B, T, D]."""
    return x * mask.unsqueeze(-1).to(x.dtype)


class TemporalConv(nn.Module):
    """A 1-D convolution over time on channels-last input. [B, T, Din] -> [B, T, Dout]."""

    def __init__(self, d_in: int, d_out: int, kernel: int = 1, dilation: int = 1):
        super().__init__()
        self.conv = nn.Conv1d(d_in, d_out, kernel, padding=dilation * (kernel - 1) // 2, dilation=dilation)

    def forward(self, x: Tensor, mask: Tensor) -> Tensor:
        y = self.conv(masked(x, mask).transpose(1, 2)).transpose(1, 2)
        return masked(y, mask)


class ModalityEmbedding(nn.Module):
    """The baseline's plain per-modality embedding: conv(k) -> LeakyReLU -> dropout.

    x: [B, T, D_m] -> [B, T, H]
    """

    def __init__(self, d_in: int, hidden: int, kernel: int, dropout: float):
        super().__init__()
        self.conv = TemporalConv(d_in, hidden, kernel)
        self.drop = nn.Dropout(dropout)

    def forward(self, x: Tensor, mask: Tensor) -> Tensor:
        return masked(self.drop(F.leaky_relu(self.conv(x, mask), 0.2)), mask)


class MTFF(nn.Module):
    """Multi-scale temporal feature fusion: parallel dilated convs + identity, fused, residual.

    Branch i is conv(kernel, dilation d_i) H -> H; the identity is the input itself. The n + 1
    branches are concatenated, fused by a 1x1 conv (n+1)H -> H with LeakyReLU and dropout, and
    added to the input. Receptive fields 1 + (k-1) d_i let short actions (a few snippets) keep
    their own scale next to longer context.  x: [B, T, H] -> [B, T, H]
    """

    def __init__(self, hidden: int, kernel: int, dilations: list[int], dropout: float):
        super().__init__()
        self.branches = nn.ModuleList(TemporalConv(hidden, hidden, kernel, d) for d in dilations)
        self.fuse = TemporalConv(hidden * (len(dilations) + 1), hidden, 1)
        self.drop = nn.Dropout(dropout)

    def forward(self, x: Tensor, mask: Tensor) -> Tensor:
        parts = [F.leaky_relu(b(x, mask), 0.2) for b in self.branches] + [x]
        fused = self.drop(F.leaky_relu(self.fuse(torch.cat(parts, dim=-1), mask), 0.2))
        return masked(x + fused, mask)


def snippet_difference(x: Tensor, mask: Tensor, forward: bool = False) -> Tensor:
    """d_t = f_t - f_{t-1} (zero at t = 0); with `forward`, + (f_{t+1} - f_t) (zero at the end).

    Differences that would involve a padded snippet are zero. x: [B, T, H] -> [B, T, H]
    """
    m = mask.to(x.dtype).unsqueeze(-1)
    x = x * m
    back = torch.zeros_like(x)
    back[:, 1:] = (x[:, 1:] - x[:, :-1]) * m[:, :-1]
    if forward:
        fwd = torch.zeros_like(x)
        fwd[:, :-1] = (x[:, 1:] - x[:, :-1]) * m[:, 1:]
        back = back + fwd
    return back * m


class SDABlock(nn.Module):
    """One snippet-inter difference attention layer (Transformer encoder block).

    e = f + W_d d (difference-enhanced features, d = snippet_difference(f));
    a = MHA(query = e, key = e, value = f) over valid snippets;
    post-norm: f' = LN(f + drop(a)); out = LN(f' + drop(FFN(f'))).
    pre-norm (default): f = LN(x) for e and the values; h = x + drop(a); out = h + drop(FFN(LN(h)))
    -- keeps the magnitude of the residual stream, which carries how much action evidence a
    snippet has (post-norm rescales every snippet to unit variance).
    The salient temporal changes decide *which* snippets correlate; the content carried along
    is the features themselves.  x: [B, T, H] -> [B, T, H]
    """

    def __init__(self, hidden: int, heads: int, ffn_dim: int, dropout: float, forward_difference: bool,
                 attention_dropout: float = 0.0, pre_norm: bool = True, window: int = 0,
                 layer_scale: float = 0.0):
        super().__init__()
        self.forward_difference = forward_difference
        self.pre_norm = pre_norm
        self.window = int(window)
        self.heads = heads
        # LayerScale: learnable per-channel gains on both branches, starting small so that
        # the block starts close to the identity (0 = plain residual, gain 1).
        self.gamma_attn = nn.Parameter(torch.full((hidden,), float(layer_scale))) if layer_scale > 0 else None
        self.gamma_ffn = nn.Parameter(torch.full((hidden,), float(layer_scale))) if layer_scale > 0 else None
        self.diff_proj = nn.Linear(hidden, hidden)
        self.attn = nn.MultiheadAttention(hidden, heads, dropout=attention_dropout, batch_first=True)
        self.norm1 = nn.LayerNorm(hidden)
        self.norm2 = nn.LayerNorm(hidden)
        self.ffn = nn.Sequential(nn.Linear(hidden, ffn_dim), nn.GELU(), nn.Dropout(dropout),
                                 nn.Linear(ffn_dim, hidden))
        self.drop = nn.Dropout(dropout)

    def _masks(self, mask: Tensor) -> dict:
        """MHA masks: keys must be valid (and within the window); never a fully masked row."""
        if self.window <= 0:
            pad = (~mask).clone()
            pad[:, 0] &= mask.any(dim=1)      # a row without valid snippets would give NaN
            return {"key_padding_mask": pad}
        t = mask.shape[1]
        idx = torch.arange(t, device=mask.device)
        near = (idx.view(-1, 1) - idx.view(1, -1)).abs() <= self.window      # [T, T]
        allowed = near.unsqueeze(0) & mask.unsqueeze(1)                         # [B, T, T]
        allowed = allowed | (torch.eye(t, dtype=torch.bool, device=mask.device).unsqueeze(0)
                             & ~allowed.any(dim=2, keepdim=True))
        return {"attn_mask": ~allowed.repeat_interleave(self.heads, dim=0)}

    def _scale(self, y: Tensor, gamma) -> Tensor:
        return y if gamma is None else y * gamma

    def forward(self, x: Tensor, mask: Tensor) -> Tensor:
        masks = self._masks(mask)
        if self.pre_norm:
            f = masked(self.norm1(x), mask)
            e = f + self.diff_proj(snippet_difference(f, mask, self.forward_difference))
            a, _ = self.attn(e, e, f, need_weights=False, **masks)
            h = x + self.drop(self._scale(a, self.gamma_attn))
            h = h + self.drop(self._scale(self.ffn(self.norm2(h)), self.gamma_ffn))
        else:
            e = x + self.diff_proj(snippet_difference(x, mask, self.forward_difference))
            a, _ = self.attn(e, e, x, need_weights=False, **masks)
            h = self.norm1(x + self.drop(self._scale(a, self.gamma_attn)))
            h = self.norm2(h + self.drop(self._scale(self.ffn(h), self.gamma_ffn)))
        return masked(h, mask)


class SDA(nn.Module):
    """A stack of `SDABlock`s (each recomputes the differences of its input). [B,T,H] -> [B,T,H]"""

    def __init__(self, hidden: int, heads: int, layers: int, ffn_dim: int, dropout: float,
                 forward_difference: bool, attention_dropout: float = 0.0, pre_norm: bool = True,
                 window: int = 0, layer_scale: float = 0.0):
        super().__init__()
        self.blocks = nn.ModuleList(SDABlock(hidden, heads, ffn_dim, dropout, forward_difference,
                                             attention_dropout, pre_norm, window, layer_scale)
                                    for _ in range(layers))

    def forward(self, x: Tensor, mask: Tensor) -> Tensor:
        for block in self.blocks:
            x = block(x, mask)
        return x


class AttentionHead(nn.Module):
    """Per-modality foreground attention (CO2-Net style). [B, T, H] -> [B, T] in [0, 1]"""

    def __init__(self, hidden: int, width: int, dropout: float):
        super().__init__()
        self.conv1 = TemporalConv(hidden, width, 3)
        self.conv2 = TemporalConv(width, width, 3)
        self.out = TemporalConv(width, 1, 1)
        self.drop = nn.Dropout(dropout)

    def forward(self, x: Tensor, mask: Tensor) -> Tensor:
        h = self.drop(F.leaky_relu(self.conv1(x, mask), 0.2))
        h = F.leaky_relu(self.conv2(h, mask), 0.2)
        return torch.sigmoid(self.out(h, mask)).squeeze(-1) * mask.to(x.dtype)


class ClassificationHead(nn.Module):
    """Concatenated modality features -> 1x1 fusion -> classifier conv(k3) -> CAS of C+1.

    x: [B, T, F] -> (fused features [B, T, F], cas logits [B, T, C+1]); the last CAS channel is
    the background class.
    """

    def __init__(self, dim: int, num_classes: int, dropout: float, classifier_dropout: float):
        super().__init__()
        self.fusion = TemporalConv(dim, dim, 1)
        self.classifier = TemporalConv(dim, dim, 3)
        self.out = TemporalConv(dim, num_classes + 1, 1)
        self.drop = nn.Dropout(dropout)
        self.cls_drop = nn.Dropout(classifier_dropout)

    def forward(self, x: Tensor, mask: Tensor) -> tuple[Tensor, Tensor]:
        fused = masked(self.drop(F.leaky_relu(self.fusion(x, mask), 0.2)), mask)
        h = self.cls_drop(F.leaky_relu(self.classifier(self.cls_drop(fused), mask), 0.2))
        return fused, self.out(h, mask)


class ReconstructionDecoder(nn.Module):
    """Light decoder from enhanced features back to the input features. [B,T,H] -> [B,T,D_m]"""

    def __init__(self, hidden: int, d_out: int, width: int = 0):
        super().__init__()
        if width > 0:
            self.net = nn.Sequential(nn.Linear(hidden, width), nn.LeakyReLU(0.2), nn.Linear(width, d_out))
        else:
            self.net = nn.Linear(hidden, d_out)

    def forward(self, x: Tensor, mask: Tensor) -> Tensor:
        return masked(self.net(x), mask)


class ProjectionHead(nn.Module):
    """PFM's projection for the contrastive loss. [B, T, F] -> [B, T, P] (not normalised)."""

    def __init__(self, dim: int, proj_dim: int):
        super().__init__()
        self.net = nn.Sequential(nn.Linear(dim, proj_dim), nn.LeakyReLU(0.2), nn.Linear(proj_dim, proj_dim))

    def forward(self, x: Tensor, mask: Tensor) -> Tensor:
        return masked(self.net(x), mask)


def masked_smooth(x: Tensor, mask: Tensor, kernel: int) -> Tensor:
    """Average pool over time counting only valid snippets (the family's ActivityNet smoothing).

    x: [B, T, K] -> [B, T, K]; kernel 1 returns x unchanged.
    """
    if kernel <= 1:
        return x
    m = mask.to(x.dtype).unsqueeze(-1)
    pad = kernel // 2
    num = F.avg_pool1d((x * m).transpose(1, 2), kernel, 1, pad, count_include_pad=True)
    den = F.avg_pool1d(m.transpose(1, 2), kernel, 1, pad, count_include_pad=True)
    return (num / den.clamp_min(1e-6)).transpose(1, 2) * m
