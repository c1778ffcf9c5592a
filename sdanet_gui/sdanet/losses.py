"""SDANet's losses: named, individually weighted functions, assembled in ONE place.

Why it exists: an ablation must be a config change. Each term below is a plain function of the
network output and the batch; `compute_losses` decides from the config which terms are active
(weight > 0 and, for module losses, the module switched on) and sums them with their weights.

Terms (B videos, T snippets, C classes; every mean runs over valid snippets only):
  mil            top-k MIL on the raw CAS, background label 1 (k = max(1, floor(T_valid / k_div)))
  mil_supp       top-k MIL on the attention-suppressed CAS (`network.suppress`, floor per
                 `loss.suppress_min`), background label 0
  co_activity    CO2-Net's co-activity contrastive loss on same-class pairs (margin 0.5); the
                 first 2 * train.same_class_pairs videos of a batch form pairs (0,1), (2,3), ...
  norm           attention norm (sparsity): mean attention (fused and per modality, averaged)
  guide          |1 - attention - p_background| (fused and per modality, averaged)
  mutual         CO2-Net's mutual loss: MSE between modality attentions with stop-gradient
                 both ways (part of the baseline); needs >= 2 modalities of the same length
  similarity     SDANet's similarity module: (1 - cosine) between the enhanced features of two
                 modalities, stop-gradient both ways; needs >= 2 modalities of the same width
  reconstruction MSE between decoded and input features (divided by the target's mean square
                 when loss.reconstruction_normalize, so the weight does not depend on the
                 extractor's feature scale)
  pfm            InfoNCE: each potential-action embedding is pulled to its video's
                 discriminative-action prototype and pushed from the background and
                 potential-background embeddings of the same video
  snippet        supervised (fine-tuning): BCE of attention vs foreground on snippets with a
                 known target + CE of the CAS on known foreground snippets. snippet_targets
                 [B, T] long: -1 unknown (never treated as background), 0 background, c+1 class c.
`compute_losses` returns the unweighted value of each active term and
"total" = sum(weight * term).

What this module must never do: change the network, pick a device, or treat a padded or
unreviewed snippet as background.
"""

from __future__ import annotations

import torch
from torch import Tensor
from torch.nn import functional as F

from .config import SDANetConfig
from .network import SDANetOutput, suppress

_NEG = -1.0e4  # "minus infinity" that survives fp16 autocast


def _zero(like: Tensor) -> Tensor:
    """A zero that keeps the graph connected (so backward() always works)."""
    return like.sum() * 0.0


def _masked_mean(x: Tensor, mask: Tensor) -> Tensor:
    """Mean of x [B, T] over valid snippets (mask [B, T] bool)."""
    m = mask.to(x.dtype)
    return (x * m).sum() / m.sum().clamp_min(1.0)


# --- CO2-Net family losses ---------------------------------------------------------------------

def topk_pool(cas: Tensor, mask: Tensor, k_div: float) -> Tensor:
    """Mean of each class's top-k valid snippets, k = max(1, floor(T_valid / k_div)).

    cas [B, T, K], mask [B, T] -> [B, K]
    """
    valid = mask.sum(dim=1)                                              # [B]
    k = torch.clamp(torch.floor(valid.to(torch.float32) / k_div), min=1.0)
    k = torch.minimum(k, valid.clamp_min(1).to(torch.float32))           # [B]
    k_max = max(1, min(int(k.max().item()), cas.shape[1]))
    vals = cas.masked_fill(~mask.unsqueeze(-1), _NEG).topk(k_max, dim=1).values   # [B, k_max, K]
    rank = torch.arange(k_max, device=cas.device).view(1, -1, 1)
    take = rank < k.view(-1, 1, 1)
    return torch.where(take, vals, torch.zeros_like(vals)).sum(dim=1) / k.view(-1, 1).to(cas.dtype)


def mil_loss(cas: Tensor, labels: Tensor, mask: Tensor, k_div: float, background: float,
             label_mask: Tensor | None = None) -> Tensor:
    """Top-k multiple-instance classification loss (CO2-Net `topkloss`).

    cas [B, T, C+1] logits, labels [B, C] multi-hot; the background label is `background`
    (1 for the raw CAS, 0 for the suppressed one). Labels are normalised to sum 1.
    label_mask [B, C] bool (optional): False where a video's label is unknown; that class is
    left out of the video's softmax, so it is neither pushed up nor down (never a negative).
    """
    pooled = topk_pool(cas, mask, k_div)                                      # [B, C+1]
    if label_mask is not None:
        background_known = torch.ones_like(label_mask[:, :1], dtype=torch.bool)
        keep = torch.cat([label_mask.to(torch.bool), background_known], dim=-1)
        pooled = pooled.masked_fill(~keep, _NEG)
    bg = torch.full_like(labels[:, :1], float(background))
    target = torch.cat([labels, bg], dim=-1)
    target = target / (target.sum(dim=-1, keepdim=True) + 1e-4)
    per_video = -(target * F.log_softmax(pooled.float(), dim=-1)).sum(dim=-1)  # [B]
    has = mask.any(dim=1).to(per_video.dtype)
    return (per_video * has).sum() / has.sum().clamp_min(1.0)


def co_activity_loss(features: Tensor, cas_supp: Tensor, labels: Tensor, mask: Tensor,
                     pairs: int, margin: float = 0.5) -> Tensor:
    """CO2-Net's co-activity similarity loss on same-class video pairs (2i, 2i+1), i < pairs.

    For each class: high-activation features H = X^T softmax_T(cas), low ones
    L = X^T (1 - softmax_T(cas)) / max(T_valid - 1, 1); hinge on
    (1 - cos(H1, H2)) - (1 - cos(H1, L2)) + margin (and symmetric), over the classes both videos
    share. features [B, T, F], cas_supp [B, T, C+1], labels [B, C].
    """
    p = min(int(pairs), features.shape[0] // 2)
    if p < 1:
        return _zero(features)
    n = 2 * p
    x = features[:n].float()
    m = mask[:n]
    logits = cas_supp[:n, :, :-1].float().masked_fill(~m.unsqueeze(-1), float("-inf"))
    atn = torch.softmax(logits, dim=1).nan_to_num(0.0)                      # [n, T, C]
    cnt = (m.sum(dim=1).to(x.dtype) - 1).clamp_min(1.0).view(-1, 1, 1)
    inv = (1 - atn) * m.unsqueeze(-1).to(x.dtype) / cnt
    hf = torch.einsum("btf,btc->bfc", x, atn)                               # [n, F, C]
    lf = torch.einsum("btf,btc->bfc", x, inv)
    h1, h2, l1, l2 = hf[0::2], hf[1::2], lf[0::2], lf[1::2]

    def dist(a, b):
        return 1 - F.cosine_similarity(a, b, dim=1, eps=1e-8)               # [p, C]

    d1, d2, d3 = dist(h1, h2), dist(h1, l2), dist(h2, l1)
    common = labels[0:n:2].float() * labels[1:n:2].float()                  # [p, C]
    loss = 0.5 * (F.relu(d1 - d2 + margin) * common).sum() + 0.5 * (F.relu(d1 - d3 + margin) * common).sum()
    count = common.sum()
    if count.item() <= 0:
        return _zero(features)
    return loss / count


def attention_norm_loss(out: SDANetOutput, mask: Tensor) -> Tensor:
    """Mean attention (fused and each modality, averaged): keeps attention sparse."""
    terms = [out.attention] + list(out.modality_attention.values())
    return sum(_masked_mean(a.float(), mask) for a in terms) / len(terms)


def guide_loss(out: SDANetOutput, mask: Tensor) -> Tensor:
    """|1 - attention - p_background| with p_background = softmax(cas)[..., C], averaged."""
    p_bg = torch.softmax(out.cas.float(), dim=-1)[..., -1]
    terms = [out.attention] + list(out.modality_attention.values())
    return sum(_masked_mean((1 - a.float() - p_bg).abs(), mask) for a in terms) / len(terms)


# --- SDANet losses -----------------------------------------------------------------------------

def _modality_pairs(table: dict) -> list[tuple[str, str]]:
    names = list(table)
    return [(names[i], names[j]) for i in range(len(names)) for j in range(i + 1, len(names))]


def mutual_loss(out: SDANetOutput, mask: Tensor) -> Tensor | None:
    """CO2-Net's mutual loss over all modality pairs: 0.5 MSE(a_i, sg(a_j)) + 0.5 MSE(a_j, sg(a_i)),
    averaged over pairs (None with a single modality)."""
    pairs = _modality_pairs(out.modality_attention)
    if not pairs:
        return None
    total = 0.0
    for a, b in pairs:
        ai, aj = out.modality_attention[a].float(), out.modality_attention[b].float()
        total = total + 0.5 * _masked_mean((ai - aj.detach()) ** 2, mask) + \
            0.5 * _masked_mean((aj - ai.detach()) ** 2, mask)
    return total / len(pairs)


def similarity_loss(out: SDANetOutput, mask: Tensor, mode: str = "relation") -> Tensor | None:
    """SDANet's cross-modal consistency of the enhanced features, over pairs of modalities.

    "relation": the modalities must agree on which snippets are alike: with S_m the cosine
    similarity matrix over the video's valid snippets of modality m's features [B, T, T],
    0.5 MSE(S_i, sg S_j) + 0.5 MSE(S_j, sg S_i). It compares structure, not coordinates, so it
    holds for streams whose channels mean different things (the gated embedding keeps each
    stream in its own input's channels) and for streams of different widths.
    "feature": 0.5 (1 - cos(f_i, sg f_j)) + 0.5 (1 - cos(f_j, sg f_i)) per snippet (same widths).
    None when no pair applies."""
    pairs = _modality_pairs(out.modality_features)
    if mode == "feature":
        pairs = [(a, b) for a, b in pairs
                 if out.modality_features[a].shape[-1] == out.modality_features[b].shape[-1]]
    if not pairs:
        return None
    total = 0.0
    if mode == "relation":
        m = mask.to(torch.float32)
        pair_mask = m.unsqueeze(2) * m.unsqueeze(1)                             # [B, T, T]
        denom = pair_mask.sum().clamp_min(1.0)
        rel = {k: (lambda z: z @ z.transpose(1, 2))(F.normalize(v.float(), dim=-1, eps=1e-6))
               for k, v in out.modality_features.items()}
        for a, b in pairs:
            d1 = (rel[a] - rel[b].detach()) ** 2
            d2 = (rel[b] - rel[a].detach()) ** 2
            total = total + 0.5 * ((d1 + d2) * pair_mask).sum() / denom
        return total / len(pairs)
    for a, b in pairs:
        fi, fj = out.modality_features[a].float(), out.modality_features[b].float()
        ci = 1 - F.cosine_similarity(fi, fj.detach(), dim=-1, eps=1e-6)
        cj = 1 - F.cosine_similarity(fj, fi.detach(), dim=-1, eps=1e-6)
        total = total + 0.5 * (_masked_mean(ci, mask) + _masked_mean(cj, mask))
    return total / len(pairs)


def reconstruction_loss(out: SDANetOutput, mask: Tensor, normalize: bool) -> Tensor | None:
    """MSE between decoded and input features on valid snippets, averaged over modalities."""
    if not out.reconstruction:
        return None
    terms = []
    m = mask.unsqueeze(-1).float()
    denom = m.sum().clamp_min(1.0)
    for name, rec in out.reconstruction.items():
        target = out.inputs[name].detach().float()
        mse = (((rec.float() - target) ** 2) * m).sum() / (denom * target.shape[-1])
        if normalize:
            scale = ((target ** 2) * m).sum() / (denom * target.shape[-1])
            mse = mse / scale.clamp_min(1e-6)
        terms.append(mse)
    return sum(terms) / len(terms)


def pfm_split(out: SDANetOutput, mask: Tensor, tau_a: float, tau_b: float, ratio: float,
              max_count: int) -> dict[str, Tensor]:
    """Potential feature mining: which snippets are action, background, potential action/bg.

    Discriminative action: attention >= tau_a in every modality; background: < tau_b in every
    modality; ambiguous: the rest. Among the ambiguous snippets of a video, the
    n = min(max_count, max(1, round(ratio * n_ambiguous)), n_ambiguous) with the highest fused
    attention are potential actions, and of the rest the min(n, n_ambiguous - n) lowest are
    potential background (the two never overlap).
    Returns bool masks [B, T]: action, background, ambiguous, potential_action, potential_background.
    """
    with torch.no_grad():
        atn = torch.stack([a.detach().float() for a in out.modality_attention.values()], dim=0)
        action = (atn >= tau_a).all(dim=0) & mask
        background = (atn < tau_b).all(dim=0) & mask
        ambiguous = mask & ~action & ~background
        n_amb = ambiguous.sum(dim=1)
        n = torch.clamp(torch.round(n_amb.float() * ratio), min=1).long()
        n = torch.minimum(torch.minimum(n, torch.full_like(n, max(0, int(max_count)))), n_amb)
        n_bg = torch.minimum(n, n_amb - n)
        fused = out.attention.detach().float()
        t = fused.shape[1]
        ranks = torch.arange(t, device=fused.device).view(1, -1)

        def top(scores, count, exclude):
            allowed = ambiguous & ~exclude
            order = scores.masked_fill(~allowed, float("-inf")).argsort(dim=1, descending=True)
            chosen = torch.zeros_like(ambiguous)
            chosen.scatter_(1, order, ranks < count.view(-1, 1))
            return chosen & allowed

        potential_action = top(fused, n, torch.zeros_like(ambiguous))
        potential_background = top(-fused, n_bg, potential_action)
    return {"action": action, "background": background, "ambiguous": ambiguous,
            "potential_action": potential_action, "potential_background": potential_background}


def pfm_loss(out: SDANetOutput, mask: Tensor, cfg: SDANetConfig) -> Tensor | None:
    """InfoNCE over PFM's split (see `pfm_split`), on normalised `pfm_embedding` [B, T, P].

    For each potential-action snippet q of a video with at least one discriminative-action
    snippet and at least one negative: -log(exp(q.p/tau) / (exp(q.p/tau) + sum_n exp(q.n/tau)))
    with p the (by default detached) mean action embedding, n the background and
    potential-background embeddings of that video. Zero when no video qualifies.
    """
    if out.pfm_embedding is None:
        return None
    m = cfg.model
    split = pfm_split(out, mask, m.pfm_tau_a, m.pfm_tau_b, m.pfm_potential_ratio, m.pfm_max_potential)
    z = F.normalize(out.pfm_embedding.float(), dim=-1, eps=1e-6)           # [B, T, P]
    act = split["action"].float()
    proto = (z * act.unsqueeze(-1)).sum(dim=1) / act.sum(dim=1, keepdim=True).clamp_min(1.0)
    proto = F.normalize(proto, dim=-1, eps=1e-6)                            # [B, P]
    if m.pfm_detach_prototype:
        proto = proto.detach()
    negatives = split["background"] | split["potential_background"]        # [B, T]
    queries = split["potential_action"]
    ok = (act.sum(dim=1) > 0) & negatives.any(dim=1) & queries.any(dim=1)   # [B]
    if not bool(ok.any()):
        return _zero(z)
    tau = m.pfm_temperature
    pos = (z * proto.unsqueeze(1)).sum(dim=-1) / tau                        # [B, T]
    neg = torch.einsum("btp,bsp->bts", z, z) / tau                          # [B, T(query), T(neg)]
    neg = neg.masked_fill(~negatives.unsqueeze(1), float("-inf"))
    logits = torch.cat([pos.unsqueeze(-1), neg], dim=-1)                    # [B, T, 1+T]
    per_query = torch.logsumexp(logits, dim=-1) - pos                       # [B, T]
    sel = queries & ok.unsqueeze(1)
    return (per_query * sel.float()).sum() / sel.float().sum().clamp_min(1.0)


def snippet_loss(out: SDANetOutput, targets: Tensor, mask: Tensor) -> Tensor:
    """Supervised loss on reviewed snippets (fine-tuning); unknown (-1) snippets add nothing.

    targets [B, T] long: -1 unknown, 0 background, c+1 class c. BCE(attention, foreground) over
    known snippets + CE(cas[:, :, :C], class) over known foreground snippets.
    """
    known = (targets >= 0) & mask
    if not bool(known.any()):
        return _zero(out.cas)
    fg = targets > 0
    atn = out.attention.float().clamp(1e-6, 1 - 1e-6)
    bce = F.binary_cross_entropy(atn[known], fg[known].float())
    sel = known & fg
    if bool(sel.any()):
        ce = F.cross_entropy(out.cas.float()[sel][:, :-1], (targets[sel] - 1).long())
    else:
        ce = _zero(out.cas)
    return bce + ce


# --- the one assembler -------------------------------------------------------------------------

def compute_losses(out: SDANetOutput, batch: dict, cfg: SDANetConfig) -> dict[str, Tensor]:
    """Every active loss term (unweighted) and "total" = sum(weight * term).

    batch: features [B, T, D], mask [B, T] bool, labels [B, C] float multi-hot, optional
    snippet_targets [B, T] long and label_mask [B, C] bool (False: label unknown, see
    mil_loss). A term is active when its weight is > 0 and, for module losses,
    its module is on (and applicable: similarity needs >= 2 modalities).
    """
    w, on, tr = cfg.loss, cfg.modules, cfg.train
    mask = batch.get("mask")
    mask = out.mask if mask is None else mask.to(torch.bool)
    labels = batch["labels"].to(out.cas.dtype if out.cas.is_floating_point() else torch.float32)
    label_mask = batch.get("label_mask")
    if label_mask is not None:
        label_mask = label_mask.to(out.cas.device)
    terms: dict[str, Tensor] = {}
    weights: dict[str, float] = {}

    def add(name: str, weight: float, fn):
        if weight > 0:
            value = fn()
            if value is not None:
                terms[name], weights[name] = value, weight

    cas_supp = None

    def supp():
        nonlocal cas_supp
        if cas_supp is None:
            cas_supp = suppress(out.cas, out.attention, mask, w.suppress_min)
        return cas_supp

    add("mil", w.mil, lambda: mil_loss(out.cas, labels, mask, tr.topk_divisor, 1.0, label_mask))
    add("mil_supp", w.mil_supp, lambda: mil_loss(supp(), labels, mask, tr.topk_divisor, 0.0, label_mask))
    add("co_activity", w.co_activity, lambda: co_activity_loss(
        out.features.detach() if w.co_activity_detach else out.features, supp(), labels, mask,
        tr.same_class_pairs, w.co_activity_margin))
    add("norm", w.norm, lambda: attention_norm_loss(out, mask))
    add("guide", w.guide, lambda: guide_loss(out, mask))
    add("mutual", w.mutual, lambda: mutual_loss(out, mask))
    if on.similarity:
        add("similarity", w.similarity, lambda: similarity_loss(out, mask, w.similarity_mode))
    if on.reconstruction:
        add("reconstruction", w.reconstruction,
            lambda: reconstruction_loss(out, mask, w.reconstruction_normalize))
    if on.pfm:
        add("pfm", w.pfm, lambda: pfm_loss(out, mask, cfg))
    targets = batch.get("snippet_targets")
    if targets is not None:
        add("snippet", w.snippet, lambda: snippet_loss(out, targets.to(out.cas.device), mask))
    total = sum(weights[k] * v for k, v in terms.items()) if terms else _zero(out.cas)
    terms["total"] = total
    return terms
