"""Engine speed: training throughput, prediction + localization per video, evaluation.

Measures, on the device the engine would choose (CPU here unless --device says otherwise):
  1. training snippets/s through the real trainer (`sdanet.trainer.train`): batch 10 videos,
     max_seqlen 320, 2048-d features (rgb 1024 + flow 1024, the THUMOS14 I3D layout), 20 classes,
     the THUMOS14 preset; full SDANet and the baseline (all five modules off). Steps after the
     first (warm-up) are timed from the trainer's own progress reports, validation off.
  2. predict + localize ms per video: `predict.score_features` (the network on the whole video)
     and `localization.localize_video`, on THUMOS14-like videos (2048-d, 20 classes).
  3. if `benchmarks/engine_eval.py` exists (evaluation speed vs the reference evaluator), its
     `main()` figures.

    python benchmarks/engine.py [--quick] [--device cpu] [--threads N]
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import statistics
import sys
import time
from pathlib import Path


ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))


def _thumos_like(train_videos: int, test_videos: int, min_snippets: int, max_snippets: int):
    from sdanet_gui.data.synthetic import make_synthetic

    return make_synthetic(seed=0, num_classes=20, dim=1024, train_videos=train_videos,
                          test_videos=test_videos, min_snippets=min_snippets, max_snippets=max_snippets)


def bench_training(without: str | None, steps: int, device: str | None) -> dict:
    from sdanet_gui.sdanet.config import apply_overrides, apply_without, load_preset
    from sdanet_gui.sdanet.trainer import train

    cfg = apply_without(apply_overrides(load_preset("thumos14"), [
        "train.batch_size=10", "train.max_seqlen=320", "train.same_class_pairs=3"]), without)
    # Every video is longer than 320 snippets, so each batch is exactly 10 x 320 snippets.
    fs = _thumos_like(train_videos=24, test_videos=0, min_snippets=330, max_snippets=600)
    stamps: list[tuple[int, float, float]] = []

    def progress(info):
        if info["event"] == "step":
            stamps.append((info["step"], time.perf_counter(), time.process_time()))

    result = train(cfg, fs, iterations=steps + 1, seed=0, select_on="last", final_test=False,
                   eval_every=10 ** 9, progress=progress, device=device)
    (s0, t0, c0), (s1, t1, c1) = stamps[0], stamps[-1]
    snippets = (s1 - s0) * 10 * 320
    params = sum(p.numel() for p in result.model.parameters())
    # CPU seconds of this process: on a shared machine the wall clock also counts other work.
    return {"snippets_per_s": snippets / (t1 - t0), "s_per_step": (t1 - t0) / (s1 - s0),
            "snippets_per_cpu_s": snippets / max(1e-9, c1 - c0),
            "steps": s1 - s0, "params": params, "device": result.metrics["device"]}


def bench_predict(videos: int, snippets: int, device: str | None) -> dict:
    import torch

    from sdanet_gui.sdanet.config import load_preset
    from sdanet_gui.sdanet.device import choose_device
    from sdanet_gui.sdanet.localization import PostProcessing, localize_video
    from sdanet_gui.sdanet.network import SDANet
    from sdanet_gui.sdanet.predict import score_features

    cfg = load_preset("thumos14")
    fs = _thumos_like(train_videos=0, test_videos=videos, min_snippets=snippets, max_snippets=snippets)
    plan = choose_device(device)
    torch.manual_seed(0)
    model = SDANet(cfg, fs.spec, len(fs.classes)).to(plan.device).eval()
    params = PostProcessing.from_config(cfg)
    score_features(model, fs.videos[0].features(), plan)  # warm-up
    net_ms, loc_ms, n_seg = [], [], 0
    for v in fs.videos:
        feats = v.features()
        t0 = time.perf_counter()
        scores = score_features(model, feats, plan)
        t1 = time.perf_counter()
        segs = localize_video(scores.cas, scores.attention, fs.spec, fs.classes, params)
        t2 = time.perf_counter()
        net_ms.append(1000 * (t1 - t0))
        loc_ms.append(1000 * (t2 - t1))
        n_seg += len(segs)
    return {"network_ms": statistics.median(net_ms), "localize_ms": statistics.median(loc_ms),
            "total_ms": statistics.median([a + b for a, b in zip(net_ms, loc_ms)]),
            "videos": videos, "snippets": snippets, "segments_per_video": n_seg / videos}


def run_engine_eval() -> dict | None:
    path = Path(__file__).with_name("engine_eval.py")
    if not path.is_file():
        return None
    spec = importlib.util.spec_from_file_location("engine_eval", path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod.main() if hasattr(mod, "main") else None


def main(argv=None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true", help="few steps / videos (a smoke run)")
    ap.add_argument("--device", help="auto (default), cpu, cuda")
    ap.add_argument("--threads", type=int, help="torch CPU threads (default: torch's choice)")
    ap.add_argument("--skip-eval", action="store_true", help="do not run benchmarks/engine_eval.py")
    args = ap.parse_args(argv)
    import torch

    if args.threads:
        torch.set_num_threads(args.threads)
    steps = 3 if args.quick else 10
    figures: dict = {}
    rows = []
    for name, without in (("SDANet (full)", None), ("baseline (all 5 off)", "all")):
        r = bench_training(without, steps, args.device)
        figures[f"train/{name}"] = r
        rows.append((f"train {name}", f"{r['snippets_per_s']:.0f} snippets/s",
                     f"{r['s_per_step']:.2f} s/step (10 x 320 x 2048), {r['steps']} steps, "
                     f"{r['snippets_per_cpu_s']:.0f} snippets per CPU-s, "
                     f"{r['params'] / 1e6:.1f} M params"))
    device = figures["train/SDANet (full)"]["device"]
    for t, n in (((340, 3),) if args.quick else ((340, 8), (5000, 3))):
        r = bench_predict(n, t, args.device)
        figures[f"predict/T={t}"] = r
        rows.append((f"predict+localize T={t}", f"{r['total_ms']:.1f} ms/video",
                     f"network {r['network_ms']:.1f} ms + localize {r['localize_ms']:.1f} ms, "
                     f"20 classes, median of {r['videos']}"))
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(f"\nengine benchmark on {device} (torch threads: {torch.get_num_threads()}, "
          f"1-min load average {load:.1f} on {os.cpu_count()} CPUs)")
    width = max(len(r[0]) for r in rows)
    for a, b, c in rows:
        print(f"  {a:<{width}}  {b:>18}  {c}")
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
