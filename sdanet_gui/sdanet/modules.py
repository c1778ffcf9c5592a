"""The building blocks of SDANet, each one small and masked: embedding, MTFF, SDA, heads, decoder.

Why it exists: `network.py` wires these together per modality; keeping each block here with its
shapes documented lets the ablation switch blocks without touching the wiring.

Conventions: every block takes and returns channels-last tensors x: [B, T, D] plus a validity
mask: [B, T] bool (padded snippets at the end of shorter videos are False). Blocks zero the
padded snippets of their output, and temporal convolutions only ever see zeros there, so in eval
mode the outputs on valid snippets do not depend on how much padding follows them. `mask` may
also be None: every snippet is valid (the family's sampler never pads, and `predict` scores one
whole video), and then no masking work is done at all.
What a block must never do: look at padded snippets, move tensors between devices, or read the
config itself (sizes come in as arguments).
"""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn
from torch.nn import functional as F


def masked(x: Tensor, mask: Tensor | None) -> Tensor:
    """Zero padded snippets. x: [B, T, D], mask: [B, T] bool or None (all valid) -> [B, T, D]."""
    return x if mask is None else x * mask.unsqueeze(-1).to(x.dtype)


class TemporalConv(nn.Module):
    """A 1-D convolution over time on channels-last input. [B, T, Din] -> [B, T, Dout].

    A 1x1 convolution runs as a matrix product on the channels-last tensor (no transposes)."""

    def __init__(self, d_in: int, d_out: int, kernel: int = 1, dilation: int = 1):
        super().__init__()
        self.conv = nn.Conv1d(d_in, d_out, kernel, padding=dilation * (kernel - 1) // 2, dilation=dilation)

    def forward(self, x: Tensor, mask: Tensor | None) -> Tensor:
        if self.conv.kernel_size[0] == 1:
            return masked(F.linear(masked(x, mask), self.conv.weight.squeeze(-1), self.conv.bias), mask)
        y = self.conv(masked(x, mask).transpose(1, 2)).transpose(1, 2)
        return masked(y, mask)


def masked_mean_over_time(x: Tensor, mask: Tensor | None) -> Tensor:
    """Mean over each video's valid snippets. x: [B, T, D] -> [B, 1, D]."""
    if mask is None:
        return x.mean(dim=1, keepdim=True)
    m = mask.unsqueeze(-1).to(x.dtype)
    return (x * m).sum(dim=1, keepdim=True) / m.sum(dim=1, keepdim=True).clamp_min(1.0)


class GatedEmbedding(nn.Module):
    """CO2-Net's per-modality feature filter (its `BWA_fusion_dropout_feat_v2`), the baseline's.

    The modality's own input is kept at its width and gated channel by channel:
      gate = sigmoid(conv_k3(guide) * W mean_t(x))   f = gate * x
    where `guide` is the other modalities' input (cross-modal consensus; the input itself for a
    single-modality spec), each branch is followed by LeakyReLU(0.2) and dropout. The family
    writes the video-level branch as a k3 conv over a length-1 sequence, of which only the centre
    tap is ever used: here it is that centre tap as a linear map (same function, a third of the
    parameters; its initial range is the family's, see `SDANet.reset_parameters`).
    x: [B, T, D_m], guide: [B, T, D_g] -> [B, T, D_m]
    """

    def __init__(self, d_in: int, d_guide: int, dropout: float):
        super().__init__()
        self.bit_wise = TemporalConv(d_guide, d_in, 3)
        self.channel = nn.Linear(d_in, d_in)
        self.channel.init_fan_in = 3 * d_in     # the family's k3 conv: fan-in 3 x D
        self.drop = nn.Dropout(dropout)

    def forward(self, x: Tensor, guide: Tensor, mask: Tensor | None) -> Tensor:
        local = self.drop(F.leaky_relu(self.bit_wise(guide, mask), 0.2))
        video = self.drop(F.leaky_relu(self.channel(masked_mean_over_time(x, mask)), 0.2))
        return masked(torch.sigmoid(local * video) * x, mask)


class ModalityEmbedding(nn.Module):
    """A plain per-modality embedding: conv(k) -> LeakyReLU -> dropout (model.embedding "conv",
    the layout of checkpoints made before the gated embedding).  x: [B, T, D_m] -> [B, T, H]
    """

    def __init__(self, d_in: int, hidden: int, kernel: int, dropout: float):
        super().__init__()
        self.conv = TemporalConv(d_in, hidden, kernel)
        self.drop = nn.Dropout(dropout)

    def forward(self, x: Tensor, mask: Tensor | None) -> Tensor:
        return masked(self.drop(F.leaky_relu(self.conv(x, mask), 0.2)), mask)


class MTFF(nn.Module):
    """Multi-scale temporal feature fusion: parallel dilated convs + identity, fused, residual.

    The stream (width H) is projected to a bottleneck of width W (1x1 conv + LeakyReLU; no
    projection when W = H); branch i is conv(kernel, dilation d_i) W -> W; the n branches and
    the bottleneck itself are concatenated, fused by a 1x1 conv (n+1)W -> H with LeakyReLU and
    dropout, and added to the input. Receptive fields 1 + (k-1) d_i let short actions (a few
    snippets) keep their own scale next to longer context. The bottleneck keeps the block's
    cost a fraction of the stream's at I3D widths (by default W = max(min(H, 64), H / 8): three
    dilated convs at full width would cost more than the rest of the network).
    x: [B, T, H] -> [B, T, H]
    """

    def __init__(self, hidden: int, kernel: int, dilations: list[int], dropout: float, width: int | None = None,
                 layer_scale: float = 0.0):
        super().__init__()
        width = hidden if width is None else int(width)
        self.gamma = nn.Parameter(torch.full((hidden,), float(layer_scale))) if layer_scale > 0 else None
        self.reduce = TemporalConv(hidden, width, 1) if width != hidden else None
        self.branches = nn.ModuleList(TemporalConv(width, width, kernel, d) for d in dilations)
        self.fuse = TemporalConv(width * (len(dilations) + 1), hidden, 1)
        self.drop = nn.Dropout(dropout)

    def forward(self, x: Tensor, mask: Tensor | None) -> Tensor:
        z = x if self.reduce is None else F.leaky_relu(self.reduce(x, mask), 0.2)
        parts = [F.leaky_relu(b(z, mask), 0.2) for b in self.branches] + [z]
        fused = self.drop(F.leaky_relu(self.fuse(torch.cat(parts, dim=-1), mask), 0.2))
        return masked(x + (fused if self.gamma is None else fused * self.gamma), mask)


def snippet_difference(x: Tensor, mask: Tensor | None, forward: bool = False) -> Tensor:
    """d_t = f_t - f_{t-1} (zero at t = 0); with `forward`, + (f_{t+1} - f_t) (zero at the end).

    Differences that would involve a padded snippet are zero. x: [B, T, H] -> [B, T, H]
    """
    x = masked(x, mask)
    d = x[:, 1:] - x[:, :-1]
    if mask is not None:
        d = d * mask[:, :-1].unsqueeze(-1).to(x.dtype)
    back = F.pad(d, (0, 0, 1, 0))
    if forward:
        fwd = d if mask is None else d * mask[:, 1:].unsqueeze(-1).to(x.dtype)
        back = back + F.pad(fwd, (0, 0, 0, 1))
    return masked(back, mask)


class DifferenceAttention(nn.Module):
    """Multi-head attention whose queries and keys come from one tensor and values from another.

    Parameters are laid out as `nn.MultiheadAttention`'s (`in_proj_weight` [3E, E],
    `in_proj_bias`, `out_proj`), so weights saved from that module load here. Runs through
    `scaled_dot_product_attention` (fused kernels on CPU and CUDA); no mask is built when every
    snippet is valid and the attention is global.  qk, v: [B, T, E] -> [B, T, E]
    """

    def __init__(self, dim: int, heads: int, dropout: float = 0.0):
        super().__init__()
        if dim % heads:
            raise ValueError(f"attention width {dim} is not divisible by {heads} heads")
        self.heads = heads
        self.dropout = dropout
        self.in_proj_weight = nn.Parameter(torch.empty(3 * dim, dim))
        self.in_proj_bias = nn.Parameter(torch.zeros(3 * dim))
        self.out_proj = nn.Linear(dim, dim)
        nn.init.xavier_uniform_(self.in_proj_weight)

    def forward(self, qk: Tensor, v: Tensor, attn_mask: Tensor | None) -> Tensor:
        b, t, e = qk.shape
        w_qk, w_v = self.in_proj_weight.split([2 * e, e])
        b_qk, b_v = self.in_proj_bias.split([2 * e, e])
        q, k = F.linear(qk, w_qk, b_qk).chunk(2, dim=-1)
        val = F.linear(v, w_v, b_v)

        def heads(z):
            return z.view(b, t, self.heads, e // self.heads).transpose(1, 2)

        a = F.scaled_dot_product_attention(heads(q), heads(k), heads(val), attn_mask=attn_mask,
                                           dropout_p=self.dropout if self.training else 0.0)
        return self.out_proj(a.transpose(1, 2).reshape(b, t, e))


def attention_mask(mask: Tensor | None, window: int) -> Tensor | None:
    """Boolean SDPA mask (True = may attend) over valid snippets (and within +-window); None when
    every snippet is valid and the attention is global. A row never ends up fully masked: a
    snippet always sees itself. -> [B, 1, T, T] or [B, 1, 1, T]"""
    if window <= 0:
        if mask is None:
            return None
        keys = mask.clone()
        keys[:, 0] |= ~mask.any(dim=1)            # a video without valid snippets would give NaN
        return keys[:, None, None, :]
    t = mask.shape[1] if mask is not None else None
    if t is None:
        raise ValueError("a windowed attention needs the mask's length")
    idx = torch.arange(t, device=mask.device)
    near = (idx.view(-1, 1) - idx.view(1, -1)).abs() <= window               # [T, T]
    allowed = near.unsqueeze(0) & mask.unsqueeze(1)                            # [B, T, T]
    allowed = allowed | torch.eye(t, dtype=torch.bool, device=mask.device).unsqueeze(0)
    return allowed.unsqueeze(1)


class SDABlock(nn.Module):
    """One snippet-inter difference attention layer (Transformer encoder block) at width E.

    e = f + W_d d (difference-enhanced features, d = snippet_difference(f));
    a = MHA(query = e, key = e, value = f) over valid snippets;
    post-norm: f' = LN(f + drop(a)); out = LN(f' + drop(FFN(f'))).
    pre-norm (default): f = LN(x) for e and the values; h = x + drop(a); out = h + drop(FFN(LN(h)))
    -- keeps the magnitude of the residual stream, which carries how much action evidence a
    snippet has (post-norm rescales every snippet to unit variance).
    The salient temporal changes decide *which* snippets correlate; the content carried along
    is the features themselves.  x: [B, T, E] -> [B, T, E]
    """

    def __init__(self, hidden: int, heads: int, ffn_dim: int, dropout: float, forward_difference: bool,
                 attention_dropout: float = 0.0, pre_norm: bool = True, window: int = 0,
                 layer_scale: float = 0.0, raw_values: bool = False):
        super().__init__()
        self.raw_values = raw_values
        self.forward_difference = forward_difference
        self.pre_norm = pre_norm
        self.window = int(window)
        # LayerScale: learnable per-channel gains on both branches, starting small so that
        # the block starts close to the identity (0 = plain residual, gain 1).
        self.gamma_attn = nn.Parameter(torch.full((hidden,), float(layer_scale))) if layer_scale > 0 else None
        self.gamma_ffn = nn.Parameter(torch.full((hidden,), float(layer_scale))) if layer_scale > 0 else None
        self.diff_proj = nn.Linear(hidden, hidden)
        self.attn = DifferenceAttention(hidden, heads, attention_dropout)
        self.norm1 = nn.LayerNorm(hidden)
        self.norm2 = nn.LayerNorm(hidden)
        self.ffn = nn.Sequential(nn.Linear(hidden, ffn_dim), nn.GELU(), nn.Dropout(dropout),
                                 nn.Linear(ffn_dim, hidden))
        self.drop = nn.Dropout(dropout)

    def _scale(self, y: Tensor, gamma) -> Tensor:
        return y if gamma is None else y * gamma

    def forward(self, x: Tensor, mask: Tensor | None, attn_mask: Tensor | None) -> Tensor:
        if self.pre_norm:
            f = masked(self.norm1(x), mask)
            e = f + self.diff_proj(snippet_difference(f, mask, self.forward_difference))
            h = x + self.drop(self._scale(self.attn(e, x if self.raw_values else f, attn_mask),
                                          self.gamma_attn))
            h = h + self.drop(self._scale(self.ffn(self.norm2(h)), self.gamma_ffn))
        else:
            e = x + self.diff_proj(snippet_difference(x, mask, self.forward_difference))
            h = self.norm1(x + self.drop(self._scale(self.attn(e, x, attn_mask), self.gamma_attn)))
            h = self.norm2(h + self.drop(self._scale(self.ffn(h), self.gamma_ffn)))
        return masked(h, mask)


class SDA(nn.Module):
    """A stack of `SDABlock`s in a bottleneck of width E (no projections when E = H).

    down: H -> E (linear); the blocks run at E (each recomputes the differences of its input);
    up: E -> H adds what the blocks changed (their output minus their input) to the stream, so
    the bottleneck never replaces the stream with a low-rank copy of itself. By default E =
    max(min(H, 64), H / 8): at I3D widths a full-width Transformer block costs more than the
    rest of the network.
    x: [B, T, H] -> [B, T, H]
    """

    def __init__(self, hidden: int, heads: int, layers: int, ffn_dim: int, dropout: float,
                 forward_difference: bool, attention_dropout: float = 0.0, pre_norm: bool = True,
                 window: int = 0, layer_scale: float = 0.0, width: int | None = None,
                 raw_values: bool = False):
        super().__init__()
        width = hidden if width is None else int(width)
        self.window = int(window)
        self.down = nn.Linear(hidden, width) if width != hidden else None
        self.up = nn.Linear(width, hidden) if width != hidden else None
        self.blocks = nn.ModuleList(SDABlock(width, heads, ffn_dim, dropout, forward_difference,
                                             attention_dropout, pre_norm, window, layer_scale, raw_values)
                                    for _ in range(layers))

    def forward(self, x: Tensor, mask: Tensor | None) -> Tensor:
        if mask is None and self.window > 0:
            mask = torch.ones(x.shape[:2], dtype=torch.bool, device=x.device)
        attn_mask = attention_mask(mask, self.window)
        z = x if self.down is None else masked(self.down(x), mask)
        h = z
        for block in self.blocks:
            h = block(h, mask, attn_mask)
        if self.up is None:
            return h
        return masked(x + self.up(h - z), mask)


class AttentionHead(nn.Module):
    """Per-modality foreground attention (CO2-Net's). [B, T, H] -> [B, T] in [0, 1]

    conv(k3) -> LeakyReLU -> dropout -> conv(k3) -> LeakyReLU -> conv(1) -> dropout on the logit
    (the family's, `logit_dropout`) -> sigmoid.
    """

    def __init__(self, hidden: int, width: int, dropout: float, logit_dropout: float = 0.0):
        super().__init__()
        self.conv1 = TemporalConv(hidden, width, 3)
        self.conv2 = TemporalConv(width, width, 3)
        self.out = TemporalConv(width, 1, 1)
        self.drop = nn.Dropout(dropout)
        self.logit_drop = nn.Dropout(logit_dropout) if logit_dropout > 0 else None

    def forward(self, x: Tensor, mask: Tensor | None) -> Tensor:
        h = self.drop(F.leaky_relu(self.conv1(x, mask), 0.2))
        h = F.leaky_relu(self.conv2(h, mask), 0.2)
        logit = self.out(h, mask)
        if self.logit_drop is not None:
            logit = self.logit_drop(logit)
        atn = torch.sigmoid(logit).squeeze(-1)
        return atn if mask is None else atn * mask.to(atn.dtype)


class ClassificationHead(nn.Module):
    """Concatenated modality features -> 1x1 fusion -> classifier conv(k3) -> CAS of C+1.

    x: [B, T, F] -> (fused features [B, T, F], cas logits [B, T, C+1]); the last CAS channel is
    the background class. Dropout: `dropout` after the fusion (the family's 0.7), and
    `classifier_dropout` before and after the classifier conv.
    """

    def __init__(self, dim: int, num_classes: int, dropout: float, classifier_dropout: float):
        super().__init__()
        self.fusion = TemporalConv(dim, dim, 1)
        self.classifier = TemporalConv(dim, dim, 3)
        self.out = TemporalConv(dim, num_classes + 1, 1)
        self.drop = nn.Dropout(dropout)
        self.cls_drop = nn.Dropout(classifier_dropout)

    def forward(self, x: Tensor, mask: Tensor | None) -> tuple[Tensor, Tensor]:
        fused = masked(self.drop(F.leaky_relu(self.fusion(x, mask), 0.2)), mask)
        h = self.cls_drop(F.leaky_relu(self.classifier(self.cls_drop(fused), mask), 0.2))
        return fused, self.out(h, mask)


class ReconstructionDecoder(nn.Module):
    """Light decoder from enhanced features back to the input features. [B,T,H] -> [B,T,D_m]"""

    def __init__(self, hidden: int, d_out: int, width: int = 0):
        """width > 0: linear -> LeakyReLU -> linear through `width`; 0: one linear map."""
        super().__init__()
        if width > 0:
            self.net = nn.Sequential(nn.Linear(hidden, width), nn.LeakyReLU(0.2), nn.Linear(width, d_out))
        else:
            self.net = nn.Linear(hidden, d_out)

    def forward(self, x: Tensor, mask: Tensor | None) -> Tensor:
        return masked(self.net(x), mask)


class ProjectionHead(nn.Module):
    """PFM's projection for the contrastive loss. [B, T, F] -> [B, T, P] (not normalised)."""

    def __init__(self, dim: int, proj_dim: int):
        super().__init__()
        self.net = nn.Sequential(nn.Linear(dim, proj_dim), nn.LeakyReLU(0.2), nn.Linear(proj_dim, proj_dim))

    def forward(self, x: Tensor, mask: Tensor | None) -> Tensor:
        return masked(self.net(x), mask)


def masked_smooth(x: Tensor, mask: Tensor | None, kernel: int) -> Tensor:
    """Average pool over time counting only valid snippets (the family's ActivityNet smoothing).

    x: [B, T, K] -> [B, T, K]; kernel 1 returns x unchanged.
    """
    if kernel <= 1:
        return x
    pad = kernel // 2
    if mask is None:
        mask = torch.ones(x.shape[:2], dtype=torch.bool, device=x.device)
    m = mask.to(x.dtype).unsqueeze(-1)
    num = F.avg_pool1d((x * m).transpose(1, 2), kernel, 1, pad, count_include_pad=True)
    den = F.avg_pool1d(m.transpose(1, 2), kernel, 1, pad, count_include_pad=True)
    return (num / den.clamp_min(1e-6)).transpose(1, 2) * m


def kaiming_bound(fan_in: int) -> float:
    """The family's initial weight range: kaiming_uniform_ with its defaults (a = 0): sqrt(6 / fan_in)."""
    return math.sqrt(6.0 / max(1, fan_in))
