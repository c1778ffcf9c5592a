"""Statistics of snippet features: real two-stream I3D next to the synthetic generator's modes.

    .venv/bin/python benchmarks/feature_stats.py [--real DIR] [--dim 256] [--videos 40]

Prints one table per modality (rgb, flow) with a column for the real I3D features (the
video_features reference extraction of ActivityNet v_GGSY1Qvo990 in
`tests/assets/features/video_features_i3d`, RAFT flow, 24-frame stacks every 12 frames at
15 fps: 21 snippets, 1024-d per stream; plus the 5 non-overlapping 64-frame snippets), the
synthetic "i3d" mode and the old "gaussian" mode, so that the match is measured, not claimed.
The real features are one 18-second video; they say what I3D features look like, not what a
data set's spread of videos is. Scale-free measures are used where dims differ (1024 real vs
`--dim` synthetic).

Rows:
  negative / zero / near-zero   fraction of elements < 0, == 0, < 4 % of the mean element
  mean element, RMS element     mean of x and sqrt(mean x^2) (scale of the features)
  snippet norm CV               sd / mean of the per-snippet L2 norm
  channel mean p90/p50, p99/p50 spread of the per-channel means (a few channels dominate)
  top 1 / 5 / 25 % channels     share of a snippet's energy in its largest channels
  video-mean energy             share of the energy in each video's mean feature
  lag-1 / lag-2 autocorr        autocorrelation over time of the video-centred features
  cos(x_t, x_t-1)               median cosine of consecutive snippets
  |dx| / |x|                    median ||x_t - x_t-1|| / ||x_t||
  max |dx| / median |dx|        the largest change of a video against its typical change
  |dx| at action / elsewhere    (synthetic: labelled) median change at instance boundaries vs
                                at snippets more than 1 away from any content change
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

REAL_DIR = ROOT / "tests" / "assets" / "features" / "video_features_i3d"   # copies, see SOURCES.md
REAL_VIDEO = "v_GGSY1Qvo990"


def _diffs(x: np.ndarray) -> np.ndarray:
    return np.linalg.norm(np.diff(x, axis=0), axis=1)


def feature_stats(videos: list[np.ndarray], changes: list[list[tuple[int, str]]] | None = None) -> dict:
    """The rows of the module docstring for one modality. videos: [T_i, d] arrays; changes:
    per video [(snippet, kind)] where content changes (None: unknown, e.g. real features)."""
    allx = np.concatenate(videos).astype(np.float64)
    mean = allx.mean()
    norms = np.linalg.norm(allx, axis=1)
    chan = np.sort(allx.mean(0))
    e = np.sort(allx ** 2, axis=1)[:, ::-1]
    tot = np.maximum(e.sum(1), 1e-12)
    d = allx.shape[1]

    def share(frac):
        return float((e[:, :max(1, int(round(frac * d)))].sum(1) / tot).mean())

    num = den0 = den1 = num2 = 0.0
    mean_energy = 0.0
    cosines, rel, ratio_max = [], [], []
    at_action, elsewhere = [], []
    for i, x in enumerate(videos):
        x = x.astype(np.float64)
        xc = x - x.mean(0)
        num += (xc[1:] * xc[:-1]).sum()
        num2 += (xc[2:] * xc[:-2]).sum()
        den0 += (xc ** 2).sum()
        mean_energy += (x.mean(0) ** 2).sum() * len(x)
        n = np.maximum(np.linalg.norm(x, axis=1), 1e-12)
        cosines.append((x[1:] * x[:-1]).sum(1) / n[1:] / n[:-1])
        dx = _diffs(x)
        rel.append(dx / n[1:])
        ratio_max.append(dx.max() / max(np.median(dx), 1e-12))
        if changes is not None:
            ch = changes[i]
            near = np.zeros(len(x), dtype=bool)
            for s, _ in ch:
                near[max(0, s - 1):s + 2] = True
            act = [s for s, kind in ch if kind == "action"]
            at_action += [dx[s - 1] for s in act if 1 <= s < len(x)]
            elsewhere += list(dx[~near[1:]])
    den1 = den0
    out = {
        "negative": float((allx < 0).mean()), "zero": float((allx == 0).mean()),
        "near-zero": float((allx < 0.04 * mean).mean()),
        "mean element": float(mean), "RMS element": float(np.sqrt((allx ** 2).mean())),
        "snippet norm CV": float(norms.std() / norms.mean()),
        "channel mean p90/p50": float(np.percentile(chan, 90) / max(np.median(chan), 1e-12)),
        "channel mean p99/p50": float(np.percentile(chan, 99) / max(np.median(chan), 1e-12)),
        "top 1 % channels": share(0.01), "top 5 % channels": share(0.05), "top 25 % channels": share(0.25),
        "video-mean energy": float(mean_energy / max((allx ** 2).sum(), 1e-12)),
        "lag-1 autocorr": float(num / max(den1, 1e-12)), "lag-2 autocorr": float(num2 / max(den0, 1e-12)),
        "cos(x_t, x_t-1)": float(np.median(np.concatenate(cosines))),
        "|dx| / |x|": float(np.median(np.concatenate(rel))),
        "max |dx| / median |dx|": float(np.median(ratio_max)),
    }
    if changes is not None and at_action and elsewhere:
        out["|dx| at action / elsewhere"] = float(np.median(at_action) / max(np.median(elsewhere), 1e-12))
    return out


def real_features(folder: Path) -> dict[str, dict[str, list[np.ndarray]]]:
    """{"24/12 @15fps": {"rgb": [x], "flow": [x]}, "64/64 native": ...} from the reference files."""
    out = {}
    for tag, name in (("stack24_step12_15fps", "24/12 @15fps"), ("stack64_step64_native", "64/64 native")):
        paths = {m: folder / f"{REAL_VIDEO}_i3d_raft_{tag}_{m}.npy" for m in ("rgb", "flow")}
        if all(p.is_file() for p in paths.values()):
            out[name] = {m: [np.load(p, allow_pickle=False)] for m, p in paths.items()}
    return out


def synthetic_features(mode: str, dim: int, videos: int, seed: int = 0):
    """({"rgb": [x], "flow": [x]}, changes per video or None) of `make_synthetic(mode=...)`."""
    from sdanet_gui.data.synthetic import make_synthetic

    kwargs = dict(num_classes=8, min_snippets=150, max_snippets=400) if mode == "i3d" else {}
    fs = make_synthetic(seed=seed, dim=dim, train_videos=videos, test_videos=0, mode=mode, **kwargs)
    out = {"rgb": [], "flow": []}
    changes = [] if mode == "i3d" else None
    for v in fs.videos:
        x = v.features()
        out["rgb"].append(x[:, :dim])
        out["flow"].append(x[:, dim:])
        if changes is not None:
            changes.append([tuple(c) for c in v.annotation.meta["content_changes"]])
    return out, changes


def main(argv=None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--real", type=Path, default=REAL_DIR, help="folder of the reference I3D .npy files")
    ap.add_argument("--dim", type=int, default=256, help="synthetic dims per modality (default 256)")
    ap.add_argument("--videos", type=int, default=40, help="synthetic videos per mode (default 40)")
    args = ap.parse_args(argv)
    columns: dict[str, dict[str, dict]] = {}
    for name, streams in real_features(args.real).items():
        columns[f"real I3D {name}"] = {m: feature_stats(v) for m, v in streams.items()}
    if not columns:
        print(f"(no real I3D features in {args.real}: showing the synthetic modes only)")
    for mode in ("i3d", "gaussian"):
        streams, changes = synthetic_features(mode, args.dim, args.videos)
        columns[f"synthetic {mode}"] = {m: feature_stats(v, changes) for m, v in streams.items()}
    names = list(columns)
    for modality in ("rgb", "flow"):
        rows = list(dict.fromkeys(k for c in columns.values() for k in c[modality]))
        print(f"\n{modality}\n| statistic | " + " | ".join(names) + " |")
        print("|---" * (len(names) + 1) + "|")
        for row in rows:
            cells = [columns[c][modality].get(row) for c in names]
            print(f"| {row} | " + " | ".join("" if v is None else f"{v:.3g}" for v in cells) + " |")
    return columns


if __name__ == "__main__":
    main()
