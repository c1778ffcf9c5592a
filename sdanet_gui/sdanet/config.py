"""SDANet's configuration: one typed dataclass holding every switch, size, weight and threshold.

Why it exists: the abstract of the paper gives no layer sizes and no loss weights, so every
choice made where it is silent is a named, documented default here (see
`../shared/paper/METHOD.md`), loaded from a preset (`model/presets/<name>.json`, the code
family's hyperparameters per data set), overridden from the command line
(`--set model.hidden_dim=256`, `--without mtff,sda`) and saved whole in every checkpoint
(`to_dict` / `from_dict`). An ablation is a config change, never a code edit.

Layout (dotted keys for `apply_overrides`):
  modules.*  the five switchable parts of SDANet: mtff, sda, pfm, similarity, reconstruction.
             All five off = our CO2-Net-like baseline.
  model.*    architecture sizes (hidden dims, MTFF dilations, SDA heads/layers, PFM thresholds).
  loss.*     the weight of every loss term and the hyperparameters of the losses.
  train.*    optimisation and batching (the family's protocol per data set).
  post.*     localization (proposal generation) defaults.
  eval.*     evaluation tIoU thresholds.
  data.*     which subsets train/test and the default feature spec when the data has none.

What it must never do: import torch, read features, or know about a file format other than its
own preset JSON. Feature dimensions always come from the data's `FeatureSpec`; `data.modalities`
is only the fallback for data that does not say.
"""

from __future__ import annotations

import dataclasses
import difflib
import json
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Mapping, Sequence

from ..errors import UserError

MODULE_NAMES = ("mtff", "sda", "pfm", "similarity", "reconstruction")
CONFIG_VERSION = 2
EMBEDDINGS = ("gate", "conv")


@dataclass
class ModuleSwitches:
    """Which of SDANet's parts are on. Switching a part off also removes its loss and params."""

    mtff: bool = True            # multi-scale temporal feature fusion (per modality)
    sda: bool = True             # snippet-inter difference attention (Transformer, per modality)
    pfm: bool = True             # potential feature mining (contrastive loss on ambiguous snippets)
    similarity: bool = True      # cross-modal consistency loss (attention MSE + feature cosine)
    reconstruction: bool = True  # light decoder enhanced -> input features, MSE


@dataclass
class ModelConfig:
    """Architecture. Every size is per modality unless it says otherwise; a width of 0 follows
    the modality's input width (the family's layers do: CO2-Net/DELU keep each stream at its
    input width), so the network is as wide as its features, never wider."""

    embedding: str = "gate"            # "gate": CO2-Net's cross-modal gated filter of the input
                                       # (width = input width); "conv": conv(embed_kernel) to
                                       # hidden_dim (the layout of checkpoints before version 2)
    hidden_dim: int = 0                # "conv" embedding width (0 = the input width)
    embed_kernel: int = 3              # temporal kernel of the "conv" embedding
    dropout: float = 0.5               # dropout in the embedding, MTFF and the attention heads
    fusion_dropout: float = 0.5        # after the 1x1 fusion of the modalities (CO2-Net: 0.7)
    classifier_dropout: float = 0.7    # dropout in the classification head (CO2-Net uses 0.7)
    attention_hidden: int = 0          # width of the attention head convs (0 = half the stream;
                                       # DELU/CO2-Net: 512 at 1024-d)
    attention_logit_dropout: float = 0.0   # dropout on the attention logit (CO2-Net: 0.5)
    init: str = "xavier"               # "xavier": xavier_uniform_; "kaiming": the family's kaiming_uniform_
    # MTFF: bottleneck, parallel dilated convs + identity, concatenated, fused by a 1x1 conv, residual.
    mtff_kernel: int = 3
    mtff_dilations: list[int] = field(default_factory=lambda: [1, 2, 4])
    mtff_width: int = 0                # bottleneck width (0 = max(min(H, 64), H / 8), -1 = full, no projections)
    mtff_layer_scale: float = 0.01     # > 0: learnable per-channel gain on the fused branch, starting here
    # SDA: queries/keys from difference-enhanced features, values from the features.
    sda_dim: int = 0                   # width the blocks run at (0 = max(min(H, 64), H / 8), -1 = full)
    sda_heads: int = 4
    sda_layers: int = 1
    sda_ffn_dim: int = 0               # 0 = twice sda_dim
    sda_dropout: float = 0.1            # on the attention output and inside the FFN
    sda_attention_dropout: float = 0.0  # on the attention weights
    sda_forward_difference: bool = False   # also add f_{t+1} - f_t to the backward difference
    sda_pre_norm: bool = True          # LayerNorm before attention/FFN (False: after the residual)
    sda_raw_values: bool = True        # pre-norm: values are the stream itself, not its LayerNorm
    sda_to_attention: bool = True      # the attention head reads SDA's output (False: SDA's input)
    sda_window: int = 0                # 0: global attention; w > 0: each snippet sees +-w snippets
    sda_layer_scale: float = 0.1       # > 0: learnable per-channel branch gains starting here (0: off)
    # Why LayerScale by default: with full-gain branches, global attention handed every snippet
    # the video's class evidence and the attention stopped localizing (synthetic set, 200
    # steps, pre-norm: baseline + SDA 0.1 % average mAP; with starting gain 0.1, 15 %). Pre-norm
    # keeps each snippet's feature magnitude, which post-norm would rescale away.
    # PFM: split snippets by modality attention into action / background / ambiguous.
    pfm_tau_a: float = 0.5             # attention >= tau_a in every modality: discriminative action
    pfm_tau_b: float = 0.5             # attention < tau_b in every modality: background
    pfm_potential_ratio: float = 0.25  # fraction of ambiguous snippets taken as potential action
                                       # (highest attention) and as potential background (lowest)
    pfm_max_potential: int = 32        # at most this many of each per video
    pfm_proj_dim: int = 128            # projection head width for the contrastive loss
    pfm_temperature: float = 0.5       # InfoNCE temperature
    pfm_detach_prototype: bool = True  # the discriminative-action prototype is a fixed target
    # Reconstruction decoder: enhanced per-modality features -> input features.
    reconstruction_hidden: int = 0     # linear-LeakyReLU-linear through this width (0 = as MTFF's
                                       # bottleneck); -1: a single linear map (version 1)

    def stream_width(self, d_in: int) -> int:
        """Width H of a modality stream with input width d_in."""
        if self.embedding == "gate":
            return int(d_in)
        return int(self.hidden_dim) if self.hidden_dim > 0 else int(d_in)

    def widths(self, d_in: int) -> dict[str, int]:
        """Every width of one stream, resolved for input width d_in (0 = follows, -1 = full)."""
        h = self.stream_width(d_in)

        # A bottleneck is H / 8 on wide streams (128 at 1024-d: the blocks then cost a few % of
        # the step) and never narrower than 64 or the stream itself.
        bottleneck = max(min(h, 64), h // 8)

        def part(value: int, auto: int) -> int:
            return h if value < 0 else (int(value) if value > 0 else auto)

        sda = part(self.sda_dim, bottleneck)
        sda = max(sda - sda % max(1, self.sda_heads), self.sda_heads)
        return {"stream": h, "attention": part(self.attention_hidden, max(1, h // 2)),
                "mtff": part(self.mtff_width, bottleneck), "sda": sda,
                "sda_ffn": int(self.sda_ffn_dim) if self.sda_ffn_dim > 0 else 2 * sda,
                "reconstruction": part(self.reconstruction_hidden, bottleneck)
                if self.reconstruction_hidden >= 0 else 0}


@dataclass
class LossConfig:
    """Weight of every loss term (0 disables a term) and the losses' own hyperparameters."""

    mil: float = 1.0            # top-k MIL on the raw CAS (background label 1)
    mil_supp: float = 1.0       # top-k MIL on the attention-suppressed CAS (background label 0)
    co_activity: float = 1.0    # co-activity contrastive loss on same-class pairs (CO2-Net alpha3)
    norm: float = 0.8           # attention norm (sparsity) loss (CO2-Net alpha1)
    guide: float = 0.4          # guide loss |1 - atn - p_bg| (DELU's THUMOS14 alpha2; CO2-Net: 0.8)
    mutual: float = 1.0         # CO2-Net's mutual loss: MSE between modality attentions (alpha4)
    similarity: float = 1.0     # SDANet's similarity module: feature-level cross-modal consistency
    similarity_mode: str = "relation"   # "relation": snippet-similarity matrices agree; "feature":
                                        # per-snippet cosine between the modalities' features
    reconstruction: float = 0.5
    pfm: float = 0.5
    snippet: float = 0.0        # supervised snippet-level loss, used by fine-tuning on reviews
    co_activity_margin: float = 0.5
    co_activity_detach: bool = False   # compute the co-activity loss on detached features, so it
                                       # shapes where the CAS fires but not the shared features
    reconstruction_normalize: bool = True    # divide the MSE by the target's mean square
    suppress_min: str = "time"     # the suppressed CAS's floor: "time" = each class's minimum over
                                   # the video, detached; "classes" = each snippet's minimum over
                                   # classes, with gradient (CO2-Net/DELU)


@dataclass
class TrainConfig:
    """Optimisation and batching. k for the MIL top-k is max(1, floor(T_valid / topk_divisor))."""

    lr: float = 5e-5
    lr_reference_width: int = 0  # > 0: `lr` is the rate for streams this wide; narrower streams
                                 # train at lr x reference / width (`effective_lr`; presets: 512)
    weight_decay: float = 1e-3
    batch_size: int = 10
    same_class_pairs: int = 3    # the first 2*pairs videos of a batch form same-class pairs
    max_seqlen: int = 320        # longer videos are resampled (one random index per bin)
    resample: str = "stretch"    # "stretch": every video is resampled to exactly max_seqlen
                                 # snippets, shorter ones too (the family's sampler: no padding);
                                 # "pad": shorter videos are kept whole and padded
    iterations: int = 5000
    topk_divisor: float = 7.0
    smoothing_kernel: int = 1    # average-pool kernel on CAS and attentions (1 = off; AN: 13)
    eval_every: int = 100        # validate every N iterations (model selection)
    val_fraction: float = 0.1    # fraction of training videos carved out for model selection
    grad_clip: float = 0.0       # max gradient norm (0 = off)
    seed: int = 0
    select_on_test: bool = False # the family's "best on test" protocol; never the default


@dataclass
class PostConfig:
    """Localization defaults (CO2-Net/DELU protocol)."""

    class_threshold: float = 0.2
    attention_thresholds: list[float] = field(
        default_factory=lambda: [round(0.1 + i * (0.8 / 9), 6) for i in range(10)])
    outer_inner_ratio: float = 0.25
    video_score_weight: float = 0.2
    nms_sigma: float = 0.3
    topk_divisor: float = 10.0   # video score = softmax of the mean of the top floor(T/10)
    max_proposals: int = 0       # per video after NMS (0 = keep all)
    min_score: float = 0.0       # drop proposals scoring below this after NMS
    filter_ambiguous: bool = True


@dataclass
class EvalConfig:
    tiou_thresholds: list[float] = field(
        default_factory=lambda: [0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7])


@dataclass
class DataConfig:
    """Which subsets train and test, and the feature spec used when the data carries none."""

    train_subset: str = "validation"
    test_subset: str = "test"
    num_classes: int = 0         # informational (0 = from the data)
    fps: float = 25.0
    snippet_frames: int = 16
    stride_frames: int = 16
    modalities: list[list] = field(default_factory=lambda: [["rgb", 1024], ["flow", 1024]])


@dataclass
class SDANetConfig:
    """The whole configuration. `to_dict()` is what checkpoints store."""

    version: int = CONFIG_VERSION      # configs saved without it are version 1 (`from_checkpoint`)
    preset: str = ""
    description: str = ""
    modules: ModuleSwitches = field(default_factory=ModuleSwitches)
    model: ModelConfig = field(default_factory=ModelConfig)
    loss: LossConfig = field(default_factory=LossConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    post: PostConfig = field(default_factory=PostConfig)
    eval: EvalConfig = field(default_factory=EvalConfig)
    data: DataConfig = field(default_factory=DataConfig)

    # --- convenience ------------------------------------------------------------------------
    def enabled_modules(self) -> list[str]:
        return [m for m in MODULE_NAMES if getattr(self.modules, m)]

    def effective_lr(self, spec) -> float:
        """The learning rate training uses for features of `spec` (a FeatureSpec).

        Why: our layers follow the input's width, and with Adam every weight moves about lr
        per step, so a layer's output moves in proportion to its fan-in: layers 8x narrower
        learn about 8x slower at the same rate (I3D-like set, 2 x 64-d, baseline, 600 steps:
        at 5e-5 the video-level classification had not started, validation mAP 0.3; at 4e-4,
        22). `train.lr_reference_width` scales the rate by reference / mean stream width
        (never down). The presets use 512, the width of version 1's fixed layers, with which
        the family's rates trained well: 2 x 1024-d keeps the family's rate exactly.
        """
        ref = int(self.train.lr_reference_width)
        if ref <= 0:
            return float(self.train.lr)
        widths = [self.model.stream_width(d) for _, d in spec.modalities]
        return float(self.train.lr) * max(1.0, ref / (sum(widths) / len(widths)))

    def topk(self, valid_snippets: int) -> int:
        """k of the top-k MIL for a video of this many valid snippets."""
        return max(1, int(valid_snippets // self.train.topk_divisor))

    def feature_spec(self):
        """The fallback `FeatureSpec` this config describes (data-provided specs win)."""
        from ..data.units import FeatureSpec

        return FeatureSpec(self.data.fps, self.data.snippet_frames, self.data.stride_frames,
                           tuple((str(n), int(d)) for n, d in self.data.modalities))

    @classmethod
    def from_checkpoint(cls, d: Mapping, source: str = "checkpoint config") -> "SDANetConfig":
        """The config a checkpoint saved (unknown keys ignored), read as the version it was
        written in: a version-1 config (no "version" key) gets, for every key added since, the
        value that reproduces the network and training it described, so old checkpoints keep
        loading and fine-tune as they were trained."""
        d = json.loads(json.dumps(dict(d)))
        if "version" not in d:
            model, loss, tr = (d.setdefault(k, {}) for k in ("model", "loss", "train"))
            mods = d.get("modules", {})
            for key, value in (("embedding", "conv"), ("fusion_dropout", model.get("dropout", 0.5)),
                               ("attention_logit_dropout", 0.0), ("init", "xavier"),
                               ("mtff_width", -1), ("sda_dim", -1), ("mtff_layer_scale", 0.0),
                               ("sda_raw_values", False), ("sda_to_attention", True),
                               ("pfm_temperature", 0.1)):
                model.setdefault(key, value)
            if int(model.get("reconstruction_hidden", 0)) == 0:   # v1: 0 meant one linear map
                model["reconstruction_hidden"] = -1
            loss.setdefault("guide", 0.8)
            old_similarity = float(loss.get("similarity", 1.0)) if mods.get("similarity", True) else 0.0
            loss.setdefault("mutual", old_similarity)       # v1's similarity = attention MSE +
            loss["similarity"] = float(loss.get("similarity", 1.0)) * \
                float(loss.pop("similarity_feature_weight", 0.1))   # weight x feature term
            loss.setdefault("suppress_min", "time")
            loss.setdefault("similarity_mode", "feature")
            tr.setdefault("resample", "pad")
            d["version"] = 1
        return cls.from_dict(d, strict=False, source=source)

    def copy(self) -> "SDANetConfig":
        return SDANetConfig.from_dict(self.to_dict())

    # --- (de)serialization ------------------------------------------------------------------
    def to_dict(self) -> dict:
        return json.loads(json.dumps(dataclasses.asdict(self)))

    @classmethod
    def from_dict(cls, d: Mapping, *, strict: bool = True, source: str = "config") -> "SDANetConfig":
        """Build from a (possibly partial) nested dict; missing keys keep their defaults.

        Unknown keys raise `UserError` naming close matches when `strict`, else are ignored
        (a checkpoint written by a newer version may carry keys this one does not know).
        """
        cfg = cls()
        _merge(cfg, d, prefix="", strict=strict, source=source)
        cfg.validate(source)
        return cfg

    def validate(self, source: str = "config") -> None:
        """Raise `UserError` for values that cannot work (named by their dotted key)."""
        problems = []
        m, t, p, l = self.model, self.train, self.post, self.loss
        for key, val in (("model.sda_heads", m.sda_heads),
                         ("model.pfm_proj_dim", m.pfm_proj_dim), ("model.embed_kernel", m.embed_kernel),
                         ("model.mtff_kernel", m.mtff_kernel), ("train.batch_size", t.batch_size),
                         ("train.max_seqlen", t.max_seqlen), ("train.smoothing_kernel", t.smoothing_kernel)):
            if val < 1:
                problems.append(f"{key} must be >= 1 (got {val})")
        if m.sda_layers < 0 or m.sda_window < 0 or m.sda_layer_scale < 0:
            problems.append("model.sda_layers, model.sda_window and model.sda_layer_scale must be >= 0")
        for key, val in (("model.hidden_dim", m.hidden_dim), ("model.attention_hidden", m.attention_hidden),
                         ("model.sda_ffn_dim", m.sda_ffn_dim)):
            if val < 0:
                problems.append(f"{key} must be >= 0 (0 = follow the input width; got {val})")
        for key, val in (("model.mtff_width", m.mtff_width), ("model.sda_dim", m.sda_dim),
                         ("model.reconstruction_hidden", m.reconstruction_hidden)):
            if val < -1:
                problems.append(f"{key} must be >= -1 (0 = the bottleneck max(min(H, 64), H / 8), -1 = full; got {val})")
        if m.sda_dim > 0 and m.sda_dim % max(1, m.sda_heads):
            problems.append(f"model.sda_dim ({m.sda_dim}) must be divisible by model.sda_heads "
                            f"({m.sda_heads})")
        if m.embedding not in EMBEDDINGS:
            problems.append(f"model.embedding must be one of {', '.join(EMBEDDINGS)} (got {m.embedding!r})")
        if m.init not in ("kaiming", "xavier"):
            problems.append(f"model.init must be kaiming or xavier (got {m.init!r})")
        if l.similarity_mode not in ("relation", "feature"):
            problems.append(f"loss.similarity_mode must be relation or feature (got {l.similarity_mode!r})")
        if l.suppress_min not in ("classes", "time"):
            problems.append(f"loss.suppress_min must be classes or time (got {l.suppress_min!r})")
        if t.resample not in ("stretch", "pad"):
            problems.append(f"train.resample must be stretch or pad (got {t.resample!r})")
        if not m.mtff_dilations or any(d < 1 for d in m.mtff_dilations):
            problems.append(f"model.mtff_dilations must be a non-empty list of integers >= 1 "
                            f"(got {m.mtff_dilations})")
        if m.embed_kernel % 2 == 0 or m.mtff_kernel % 2 == 0 or t.smoothing_kernel % 2 == 0:
            problems.append("model.embed_kernel, model.mtff_kernel and train.smoothing_kernel must be odd")
        for key, val in (("model.pfm_tau_a", m.pfm_tau_a), ("model.pfm_tau_b", m.pfm_tau_b),
                         ("model.pfm_potential_ratio", m.pfm_potential_ratio),
                         ("model.dropout", m.dropout), ("model.classifier_dropout", m.classifier_dropout),
                         ("model.fusion_dropout", m.fusion_dropout),
                         ("model.attention_logit_dropout", m.attention_logit_dropout),
                         ("model.sda_dropout", m.sda_dropout),
                         ("model.sda_attention_dropout", m.sda_attention_dropout),
                         ("post.class_threshold", p.class_threshold),
                         ("train.val_fraction", t.val_fraction)):
            if not 0.0 <= val <= 1.0:
                problems.append(f"{key} must be in [0, 1] (got {val})")
        if m.pfm_tau_b > m.pfm_tau_a:
            problems.append(f"model.pfm_tau_b ({m.pfm_tau_b}) must not exceed model.pfm_tau_a ({m.pfm_tau_a})")
        if m.pfm_temperature <= 0:
            problems.append(f"model.pfm_temperature must be > 0 (got {m.pfm_temperature})")
        if t.topk_divisor <= 0 or p.topk_divisor <= 0:
            problems.append("train.topk_divisor and post.topk_divisor must be > 0")
        if t.same_class_pairs < 0 or t.iterations < 0:
            problems.append("train.same_class_pairs and train.iterations must be >= 0")
        if t.lr_reference_width < 0:
            problems.append(f"train.lr_reference_width must be >= 0 (got {t.lr_reference_width})")
        if t.lr <= 0 or t.weight_decay < 0:
            problems.append(f"train.lr must be > 0 and train.weight_decay >= 0 (got {t.lr}, {t.weight_decay})")
        for f in dataclasses.fields(l):
            v = getattr(l, f.name)
            if isinstance(v, float) and v < 0:
                problems.append(f"loss.{f.name} must be >= 0 (got {v})")
        if not p.attention_thresholds or any(not 0 <= x <= 1 for x in p.attention_thresholds):
            problems.append("post.attention_thresholds must be a non-empty list of values in [0, 1]")
        if p.nms_sigma <= 0:
            problems.append(f"post.nms_sigma must be > 0 (got {p.nms_sigma})")
        if not self.eval.tiou_thresholds or any(not 0 < x <= 1 for x in self.eval.tiou_thresholds):
            problems.append("eval.tiou_thresholds must be a non-empty list of values in (0, 1]")
        try:
            self.feature_spec()
        except (ValueError, TypeError) as exc:
            problems.append(f"data.*: {exc}")
        if problems:
            raise UserError(f"{source}: invalid configuration: " + "; ".join(problems))


# --- presets -------------------------------------------------------------------------------

def preset_names() -> list[str]:
    """Names of the bundled presets (`model/presets/*.json`)."""
    from ..bundled import model_files

    folder = model_files() / "presets"
    return sorted(p.name[:-5] for p in folder.iterdir() if p.name.endswith(".json"))


def load_preset(name_or_path: str | Path) -> SDANetConfig:
    """A bundled preset by name (`thumos14`, `activitynet1.2`, ...) or a preset JSON file by path.

    A preset is a partial nested dict over `SDANetConfig`'s defaults.
    """
    text, source, name = _read_preset(name_or_path)
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise UserError(f"{source}: not valid JSON ({exc.msg} at line {exc.lineno})") from exc
    except RecursionError:
        raise UserError(f"{source}: JSON nested too deeply to be a preset") from None
    if not isinstance(data, dict):
        raise UserError(f"{source}: a preset must be a JSON object of config sections")
    data = dict(data)
    data.setdefault("preset", name)
    return SDANetConfig.from_dict(data, strict=True, source=source)


def _read_preset(name_or_path) -> tuple[str, str, str]:
    raw = str(name_or_path)
    path = Path(raw)
    if raw.endswith(".json") or path.is_file() or "/" in raw or "\\" in raw:
        if not path.is_file():
            raise UserError(f"{path}: preset file not found")
        try:
            return path.read_text(encoding="utf-8"), str(path), path.stem
        except (OSError, UnicodeDecodeError) as exc:
            raise UserError(f"{path}: cannot read preset ({exc})") from exc
    from ..bundled import model_files

    res = model_files() / "presets" / f"{raw}.json"
    if not res.is_file():
        names = preset_names()
        close = difflib.get_close_matches(raw, names, n=3)
        hint = f" (did you mean {', '.join(close)}?)" if close else ""
        raise UserError(f"unknown preset {raw!r}{hint}; available: {', '.join(names)}")
    return res.read_text(encoding="utf-8"), f"preset {raw}", raw


# --- overrides -----------------------------------------------------------------------------

def all_keys(cfg: SDANetConfig | None = None) -> list[str]:
    """Every dotted key `apply_overrides` accepts."""
    return [k for k, _ in _leaves(cfg or SDANetConfig(), "")]


def apply_overrides(cfg: SDANetConfig, overrides: Iterable[str] | None) -> SDANetConfig:
    """Apply `["section.key=value", ...]` (typed parsing) and return a new, validated config.

    A bare leaf name (`lr=1e-4`) is accepted when it names exactly one key. Lists are written
    `1,2,4` or as JSON `[1, 2, 4]`; booleans `true/false/1/0/yes/no/on/off`.
    """
    out = cfg.copy()
    keys = all_keys(out)
    for item in overrides or ():
        if "=" not in item:
            raise UserError(f"--set {item!r}: expected KEY=VALUE, e.g. train.lr=1e-4")
        key, value = (s.strip() for s in item.split("=", 1))
        if key not in keys:
            matches = [k for k in keys if k.rsplit(".", 1)[-1] == key]
            if len(matches) == 1:
                key = matches[0]
            else:
                close = matches or difflib.get_close_matches(key, keys, n=4, cutoff=0.5)
                hint = f"; did you mean {', '.join(close)}?" if close else ""
                raise UserError(f"--set {item!r}: unknown config key {key!r}{hint}")
        parent, leaf = _resolve(out, key)
        hint_type = typing.get_type_hints(type(parent))[leaf]
        try:
            setattr(parent, leaf, _parse_value(value, hint_type))
        except (ValueError, TypeError) as exc:
            raise UserError(f"--set {item!r}: {key} expects {_type_name(hint_type)} ({exc})") from exc
    out.validate("--set")
    return out


def apply_without(cfg: SDANetConfig, modules: str | Sequence[str] | None) -> SDANetConfig:
    """Switch off modules named in `"mtff,sda"` (or a list); `"all"` switches off all five."""
    return _switch(cfg, modules, False, "--without")


def apply_with(cfg: SDANetConfig, modules: str | Sequence[str] | None) -> SDANetConfig:
    """Switch on modules named in `"sda,pfm"` (or a list); `"all"` switches on all five (the
    paper's full method, whatever the preset leaves off)."""
    return _switch(cfg, modules, True, "--with")


def _switch(cfg: SDANetConfig, modules, on: bool, flag: str) -> SDANetConfig:
    out = cfg.copy()
    if modules is None:
        return out
    names = [m.strip().lower() for m in (modules.split(",") if isinstance(modules, str) else modules)]
    for name in filter(None, names):
        if name == "all":
            for m in MODULE_NAMES:
                setattr(out.modules, m, on)
            continue
        if name not in MODULE_NAMES:
            close = difflib.get_close_matches(name, MODULE_NAMES, n=2)
            hint = f" (did you mean {', '.join(close)}?)" if close else ""
            raise UserError(f"{flag}: unknown module {name!r}{hint}; modules are "
                            f"{', '.join(MODULE_NAMES)} (or all)")
        setattr(out.modules, name, on)
    return out


# --- helpers -------------------------------------------------------------------------------

def _leaves(obj, prefix: str):
    for f in dataclasses.fields(obj):
        val = getattr(obj, f.name)
        key = f"{prefix}{f.name}"
        if dataclasses.is_dataclass(val):
            yield from _leaves(val, key + ".")
        else:
            yield key, val


def _resolve(cfg, key: str):
    parts = key.split(".")
    obj = cfg
    for p in parts[:-1]:
        obj = getattr(obj, p)
    return obj, parts[-1]


def _merge(obj, d: Mapping, *, prefix: str, strict: bool, source: str) -> None:
    if not isinstance(d, Mapping):
        raise UserError(f"{source}: {prefix.rstrip('.') or 'config'} must be an object, got {type(d).__name__}")
    hints = typing.get_type_hints(type(obj))
    names = {f.name for f in dataclasses.fields(obj)}
    for key, value in d.items():
        if key not in names:
            if strict:
                close = difflib.get_close_matches(str(key), sorted(names), n=3)
                hint = f"; did you mean {', '.join(prefix + c for c in close)}?" if close else ""
                raise UserError(f"{source}: unknown config key {prefix}{key!r}{hint}")
            continue
        current = getattr(obj, key)
        if dataclasses.is_dataclass(current):
            _merge(current, value, prefix=f"{prefix}{key}.", strict=strict, source=source)
            continue
        try:
            setattr(obj, key, _coerce(value, hints[key]))
        except (ValueError, TypeError) as exc:
            raise UserError(f"{source}: {prefix}{key} expects {_type_name(hints[key])}, "
                            f"got {value!r}") from exc


def _coerce(value: Any, hint) -> Any:
    """A JSON value into the field's type (strict: no silent truncation of floats to ints)."""
    origin = typing.get_origin(hint)
    if origin in (list, tuple):
        if not isinstance(value, (list, tuple)):
            raise TypeError("expected a list")
        args = typing.get_args(hint)
        inner = args[0] if args else Any
        return [_coerce(v, inner) for v in value]
    if hint is Any:
        return value
    if hint is bool:
        if isinstance(value, bool):
            return value
        raise TypeError("expected true or false")
    if hint is int:
        if isinstance(value, bool):
            raise TypeError("expected an integer")
        if isinstance(value, float) and value.is_integer():
            return int(value)
        if isinstance(value, int):
            return value
        raise TypeError("expected an integer")
    if hint is float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise TypeError("expected a number")
        return float(value)
    if hint is str:
        if not isinstance(value, str):
            raise TypeError("expected a string")
        return value
    return value


def _parse_value(text: str, hint) -> Any:
    """A command-line string into the field's type."""
    origin = typing.get_origin(hint)
    if origin in (list, tuple):
        t = text.strip()
        if t.startswith("["):
            return _coerce(json.loads(t), hint)
        args = typing.get_args(hint)
        inner = args[0] if args else str
        if inner is Any or inner in (list, dict) or typing.get_origin(inner) is not None:
            return _coerce(json.loads(t), hint)
        return [_parse_value(p, inner) for p in t.split(",") if p.strip()]
    if hint is bool:
        low = text.strip().lower()
        if low in ("1", "true", "yes", "on"):
            return True
        if low in ("0", "false", "no", "off"):
            return False
        raise ValueError(f"not a boolean: {text!r}")
    if hint is int:
        f = float(text)
        if not f.is_integer():
            raise ValueError(f"not an integer: {text!r}")
        return int(f)
    if hint is float:
        return float(text)
    return text


def _type_name(hint) -> str:
    origin = typing.get_origin(hint)
    if origin in (list, tuple):
        args = typing.get_args(hint)
        return f"a list of {_type_name(args[0]) if args else 'values'}"
    return {bool: "true/false", int: "an integer", float: "a number", str: "a string"}.get(hint, str(hint))
