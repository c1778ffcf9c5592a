"""Engine speed: training step, memory, parameters and `predict` per video, full model and baseline.

Measures, on the device the engine would choose (CPU here unless --device says otherwise), for
SDANet as the thumos14 preset configures it ("full") and with its five modules off ("all-off",
the CO2-Net baseline), at two input shapes, 2 x 256-d and 2 x 1024-d (THUMOS14's I3D layout),
20 classes, batch 10 videos x 320 snippets:
  1. training s/step and snippets/s through the real trainer (`sdanet.trainer.train`); the
     steps after the first (warm-up) are timed from the trainer's own progress reports.
  2. parameters, and the peak resident memory of the process that trained (each measurement runs
     in a fresh child process, so the peaks do not mix).
  3. `predict` ms per video (median), split into the network's forward pass
     (`predict.score_features`) and localization (`localization.localize_video`), on videos of
     150-600 snippets (untrained weights: the localization time of a trained model differs).
  4. with --profile: forward + backward ms of each block (embedding, MTFF, SDA, attention head,
     decoder, classification head, PFM projection) and of each loss term, at both shapes.
  5. if `benchmarks/engine_eval.py` exists (evaluation speed vs the reference evaluator), its
     `main()` figures (skip with --skip-eval).

`--compare DIR` also runs 1-3 with the code of another checkout (e.g. a `git worktree` of main;
the child imports `sdanet_gui` from there, see `checkout.py`) and prints both side by side: the same
script, data, shapes and machine, in one session. The data are the gaussian synthetic set (the
one mode every version has); the cost of a step does not depend on the features' values.

    python benchmarks/engine.py [--quick] [--compare DIR] [--profile] [--device cpu] [--threads N]
"""

from __future__ import annotations

import argparse
import dataclasses
import importlib.util
import json
import os
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SHAPES = (256, 1024)
# (row, which modules): "full" all five on (the paper's method), "preset" the modules the thumos14
# preset switches on, "all-off" the CO2-Net baseline. A compared checkout runs full and all-off.
CONFIGS = (("full", "paper"), ("preset", "preset"), ("all-off", "all"))


# --- measurements (run inside a child process) ---------------------------------------------------

def _config(which):
    from sdanet_gui.sdanet.config import apply_overrides, apply_without, load_preset

    cfg = apply_overrides(load_preset("thumos14"), [
        "train.batch_size=10", "train.max_seqlen=320", "train.same_class_pairs=3"])
    if which == "paper":
        for m in ("mtff", "sda", "pfm", "similarity", "reconstruction"):
            setattr(cfg.modules, m, True)
        return cfg
    return apply_without(cfg, None if which == "preset" else which)


def _data(dim: int, train_videos: int, test_videos: int, min_snippets: int, max_snippets: int):
    from sdanet_gui.data.synthetic import make_synthetic

    return make_synthetic(seed=0, num_classes=20, dim=dim, train_videos=train_videos,
                          test_videos=test_videos, min_snippets=min_snippets, max_snippets=max_snippets)


def measure_training(dim: int, without: str | None, steps: int, device: str | None) -> dict:
    from sdanet_gui.sdanet.trainer import train

    cfg = _config(without)
    # Every video is longer than 320 snippets, so each batch is exactly 10 x 320 snippets.
    fs = _data(dim, train_videos=24, test_videos=0, min_snippets=330, max_snippets=600)
    stamps: list[tuple[int, float]] = []

    def progress(info):
        if info["event"] == "step":
            stamps.append((info["step"], time.perf_counter()))

    result = train(cfg, fs, iterations=steps + 1, seed=0, select_on="last", final_test=False,
                   eval_every=10 ** 9, progress=progress, device=device)
    (s0, t0), (s1, t1) = stamps[0], stamps[-1]
    return {"s_per_step": (t1 - t0) / (s1 - s0), "snippets_per_s": (s1 - s0) * 10 * 320 / (t1 - t0),
            "steps": s1 - s0, "params": sum(p.numel() for p in result.model.parameters()),
            "device": result.metrics["device"]}


def measure_predict(dim: int, without: str | None, videos: int, device: str | None) -> dict:
    import torch

    from sdanet_gui.sdanet.device import choose_device
    from sdanet_gui.sdanet.localization import PostProcessing, localize_video
    from sdanet_gui.sdanet.network import SDANet
    from sdanet_gui.sdanet.predict import score_features

    cfg = _config(without)
    fs = _data(dim, train_videos=0, test_videos=videos, min_snippets=150, max_snippets=600)
    plan = choose_device(device)
    torch.manual_seed(0)
    model = SDANet(cfg, fs.spec, len(fs.classes)).to(plan.device).eval()
    params = PostProcessing.from_config(cfg)
    score_features(model, fs.videos[0].features(), plan)  # warm-up
    net_ms, loc_ms = [], []
    for v in fs.videos:
        feats = v.features()
        t0 = time.perf_counter()
        scores = score_features(model, feats, plan)
        t1 = time.perf_counter()
        localize_video(scores.cas, scores.attention, fs.spec, fs.classes, params)
        t2 = time.perf_counter()
        net_ms.append(1000 * (t1 - t0))
        loc_ms.append(1000 * (t2 - t1))
    return {"forward_ms": statistics.median(net_ms), "localize_ms": statistics.median(loc_ms),
            "total_ms": statistics.median([a + b for a, b in zip(net_ms, loc_ms)]), "videos": videos}


def child_main(args) -> None:
    if args.code:
        from checkout import use_checkout

        use_checkout(args.code)
    import torch

    if args.threads:
        torch.set_num_threads(args.threads)
    without = args.without
    if args.child == "train":
        out = measure_training(args.dim, without, args.steps, args.device)
    else:
        out = measure_predict(args.dim, without, args.videos, args.device)
    out["peak_rss_mib"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    out["threads"] = torch.get_num_threads()
    print("RESULT " + json.dumps(out))


def run_child(code_root: Path, kind: str, dim: int, without: str | None, args) -> dict:
    """One measurement in a fresh process that imports `sdanet_gui` from `code_root`."""
    cmd = [sys.executable, str(Path(__file__).resolve()), "--child", kind, "--dim", str(dim),
           "--without", without, "--steps", str(args.steps), "--videos", str(args.videos),
           "--code", str(code_root)]
    if args.device:
        cmd += ["--device", args.device]
    if args.threads:
        cmd += ["--threads", str(args.threads)]
    proc = subprocess.run(cmd, capture_output=True, text=True, cwd=str(code_root))
    lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("RESULT ")]
    if proc.returncode != 0 or not lines:
        raise RuntimeError(f"measurement {kind} {dim} {without} with {code_root} failed:\n{proc.stderr[-3000:]}")
    return json.loads(lines[-1][len("RESULT "):])


# --- per-block profile ---------------------------------------------------------------------------

def _timed(fn, repeats: int) -> float:
    """Median ms of fn() (forward + backward), after one warm-up call."""
    fn()
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(1000 * (time.perf_counter() - t0))
    return statistics.median(times)


def profile_blocks(dim: int, repeats: int = 3) -> dict[str, float]:
    """ms of forward + backward of each block and loss of the full model (all five modules, thumos14), batch 10 x 320,
    2 x `dim` input, 20 classes (blocks timed alone on inputs of their real shapes)."""
    import torch

    from sdanet_gui.data.units import FeatureSpec
    from sdanet_gui.sdanet import losses as L
    from sdanet_gui.sdanet.network import SDANet

    cfg = _config("paper")
    spec = FeatureSpec(25.0, 16, 16, (("rgb", dim), ("flow", dim)))
    torch.manual_seed(0)
    net = SDANet(cfg, spec, 20).train()
    b, t = 10, 320
    x = torch.rand(b, t, 2 * dim)
    mask = torch.ones(b, t, dtype=torch.bool)
    labels = torch.zeros(b, 20)
    labels[torch.arange(b), torch.arange(b) // 2] = 1.0
    stream = net.streams["rgb"]
    h = stream.width

    def fb(module_call, *inputs):
        def run():
            ins = [i.detach().requires_grad_(True) for i in inputs]
            out = module_call(*ins)
            out = out[1] if isinstance(out, tuple) else out
            out.float().sum().backward()
        return run

    xm = x[..., :dim]
    feats = torch.rand(b, t, h)
    rows = {
        "embedding (x2 modalities)": 2 * _timed(fb(lambda a, g: stream.embedding(a, g, None), xm, x[..., dim:]), repeats),
        "attention head (x2)": 2 * _timed(fb(lambda f: stream.attention(f, None), feats), repeats),
        "classification head": _timed(fb(lambda f: net.head(f, None), torch.rand(b, t, 2 * h)), repeats),
    }
    if stream.mtff is not None:
        rows["MTFF (x2)"] = 2 * _timed(fb(lambda f: stream.mtff(f, None), feats), repeats)
    if stream.sda is not None:
        rows["SDA (x2)"] = 2 * _timed(fb(lambda f: stream.sda(f, None), feats), repeats)
    if stream.decoder is not None:
        rows["reconstruction decoder (x2)"] = 2 * _timed(fb(lambda f: stream.decoder(f, None), feats), repeats)
    if net.pfm is not None:
        rows["PFM projection"] = _timed(fb(lambda f: net.pfm(f, None), torch.rand(b, t, 2 * h)), repeats)

    batch = {"features": x, "mask": mask, "labels": labels}
    with torch.no_grad():
        names = [k for k in L.compute_losses(net(x, mask), batch, cfg) if k != "total"]
    weights = {f.name for f in dataclasses.fields(cfg.loss) if isinstance(getattr(cfg.loss, f.name), float)}
    for name in names:
        only = cfg.copy()                              # this term alone: every other weight 0
        for w in weights:
            setattr(only.loss, w, getattr(cfg.loss, w) if w == name else 0.0)

        def loss_only(only=only):
            out = net(x, mask)                         # a fresh graph; time the loss alone
            t0 = time.perf_counter()
            total = L.compute_losses(out, batch, only)["total"]
            leaves = [out.cas, out.attention, out.features, *out.modality_attention.values(),
                      *out.modality_features.values(), *(out.reconstruction or {}).values()]
            leaves += [out.pfm_embedding] if out.pfm_embedding is not None else []
            torch.autograd.grad(total, leaves, allow_unused=True)
            return 1000 * (time.perf_counter() - t0)
        loss_only()
        rows[f"loss {name} (+ its backward to the outputs)"] = statistics.median(
            loss_only() for _ in range(repeats))

    def step():
        out = net(x, mask)
        L.compute_losses(out, batch, cfg)["total"].backward()
    rows["whole step (forward + losses + backward)"] = _timed(step, repeats)
    return rows


# --- the report ----------------------------------------------------------------------------------

def run_engine_eval() -> dict | None:
    path = Path(__file__).with_name("engine_eval.py")
    if not path.is_file():
        return None
    spec = importlib.util.spec_from_file_location("engine_eval", path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod.main() if hasattr(mod, "main") else None


def _load() -> str:
    return f"{os.getloadavg()[0]:.1f}" if hasattr(os, "getloadavg") else "?"


def main(argv=None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true", help="few steps / videos (a smoke run)")
    ap.add_argument("--compare", type=Path, metavar="DIR",
                    help="also measure the code of another checkout and print both")
    ap.add_argument("--profile", action="store_true", help="also time every block and loss term")
    ap.add_argument("--shapes", default=",".join(map(str, SHAPES)), help="dims per modality (default 256,1024)")
    ap.add_argument("--device", help="auto (default), cpu, cuda")
    ap.add_argument("--threads", type=int, help="torch CPU threads (default: torch's choice)")
    ap.add_argument("--skip-eval", action="store_true", help="do not run benchmarks/engine_eval.py")
    ap.add_argument("--steps", type=int, default=None, help="timed training steps (default 6; --quick 2)")
    ap.add_argument("--videos", type=int, default=None, help="predicted videos (default 20; --quick 3)")
    ap.add_argument("--child", choices=("train", "predict"), help=argparse.SUPPRESS)
    ap.add_argument("--code", type=Path, help=argparse.SUPPRESS)
    ap.add_argument("--dim", type=int, help=argparse.SUPPRESS)
    ap.add_argument("--without", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    args.steps = args.steps or (2 if args.quick else 6)
    args.videos = args.videos or (3 if args.quick else 20)
    if args.child:
        child_main(args)
        return {}
    shapes = [int(s) for s in args.shapes.split(",") if s.strip()]
    codes = [("this checkout", ROOT)] + ([("compared", args.compare.resolve())] if args.compare else [])
    figures: dict = {}
    print(f"engine benchmark: batch 10 x 320 snippets, 20 classes, thumos14 preset; 1-min load "
          f"average {_load()} on {os.cpu_count()} CPUs at the start", flush=True)
    for label, root in codes:
        for dim in shapes:
            for name, without in CONFIGS:
                if label != "this checkout" and name == "preset":
                    continue
                tr = run_child(root, "train", dim, without, args)
                pr = run_child(root, "predict", dim, without, args)
                figures[(label, dim, name)] = (tr, pr)
                print(f"  [{label}] 2 x {dim}-d {name:8s} {tr['s_per_step']:.3f} s/step "
                      f"({tr['snippets_per_s']:.0f} snippets/s), {tr['params'] / 1e6:.2f} M params, peak RSS "
                      f"{tr['peak_rss_mib']:.0f} MiB; predict {pr['total_ms']:.1f} ms/video (forward "
                      f"{pr['forward_ms']:.1f} + localization {pr['localize_ms']:.1f}); load {_load()}",
                      flush=True)
    device = next(iter(figures.values()))[0]["device"]
    print(f"\nengine benchmark on {device}; 1-min load average at the end {_load()}")
    head = "| shape | model | " + " | ".join(
        f"{c} {x}" for c, _ in codes for x in ("s/step", "snippets/s", "params", "peak RSS", "predict ms (fwd + loc)"))
    print(head + " |\n" + "|---" * (2 + 5 * len(codes)) + "|")
    for dim in shapes:
        for name, _ in CONFIGS:
            cells = []
            for label, _ in codes:
                if (label, dim, name) not in figures:
                    cells += ["-"] * 5
                    continue
                tr, pr = figures[(label, dim, name)]
                cells += [f"{tr['s_per_step']:.3f}", f"{tr['snippets_per_s']:.0f}", f"{tr['params'] / 1e6:.2f} M",
                          f"{tr['peak_rss_mib']:.0f} MiB",
                          f"{pr['total_ms']:.1f} ({pr['forward_ms']:.1f} + {pr['localize_ms']:.1f})"]
            print(f"| 2 x {dim} | {name} | " + " | ".join(cells) + " |")
    if args.profile:
        import torch

        if args.threads:
            torch.set_num_threads(args.threads)
        profiles = {dim: profile_blocks(dim, 2 if args.quick else 3) for dim in shapes}
        print(f"\nper-block forward + backward ms, full model (this checkout), batch 10 x 320; load {_load()}")
        print("| block | " + " | ".join(f"2 x {d}" for d in shapes) + " |\n" + "|---" * (1 + len(shapes)) + "|")
        for row in profiles[shapes[0]]:
            print(f"| {row} | " + " | ".join(f"{profiles[d].get(row, float('nan')):.1f}" for d in shapes) + " |")
        figures["profile"] = profiles
    if not args.skip_eval:
        ev = run_engine_eval()
        if ev is not None:
            figures["eval"] = ev
            print("\nevaluation (benchmarks/engine_eval.py):")
            for k, v in ev.items():
                print(f"  {k}: {v:.4g}" if isinstance(v, float) else f"  {k}: {v}")
    return figures


if __name__ == "__main__":
    main()
