"""Build the bundled demo: generated videos, their `tiny` features, and a small SDANet checkpoint.

The checkpoint is trained on *other* generated videos (different seeds) than the ones shown in the
demo, so what the demo shows is the model generalizing, not remembering. Run from the checkout:

    .venv/bin/python tools/build_demo.py [--train-videos 48] [--iterations 600]

Writes resources/demo/{videos,features}/demo_N.*, resources/demo/annotations.json (the demo
videos' ground truth), model/demo.pt and model/demo.json (how it was made and what it scores on
the demo videos). Deterministic for the same arguments on the same machine.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from sdanet_gui.demo_content import DEMO_CLASSES, make_demo_video  # noqa: E402

DEMO_SEEDS = (1, 2, 3)
DEMO_DURATION = 45.0


def write_annotations(path: Path, videos: dict[str, tuple[str, float, list]], spec) -> None:
    database = {
        name: {"subset": subset, "duration": duration,
               "annotations": [{"segment": [e.start, e.end], "label": e.label} for e in events]}
        for name, (subset, duration, events) in videos.items()}
    doc = {"version": "sdanet-demo", "fps": spec.fps, "snippet_frames": spec.snippet_frames,
           "stride_frames": spec.stride_frames, "class_list": list(DEMO_CLASSES),
           "train_subset": "train", "test_subset": "demo", "database": database}
    path.write_text(json.dumps(doc, indent=1))


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--train-videos", type=int, default=48)
    ap.add_argument("--train-duration", type=float, default=40.0)
    ap.add_argument("--iterations", type=int, default=600)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()

    import torch

    from sdanet_gui.data.feature_sets import load_feature_set
    from sdanet_gui.media.extract import extract_features, make_extractor
    from sdanet_gui.sdanet.config import apply_overrides, load_preset
    from sdanet_gui.sdanet.evaluation import THUMOS_TIOUS, detection_map
    from sdanet_gui.sdanet.predict import predict_feature_set
    from sdanet_gui.sdanet.trainer import train

    torch.set_num_threads(2)
    demo_dir = REPO / "resources" / "demo"
    (demo_dir / "videos").mkdir(parents=True, exist_ok=True)
    (demo_dir / "features").mkdir(parents=True, exist_ok=True)
    extractor = make_extractor("tiny")
    t0 = time.time()

    with tempfile.TemporaryDirectory(prefix="sdanet-demo-train-") as tmp:
        work = Path(tmp)
        (work / "features").mkdir()
        videos = {}
        for i in range(args.train_videos):
            name = f"train_{i:03d}"
            events = make_demo_video(work / f"{name}.mp4", duration=args.train_duration, seed=1000 + i)
            extract_features(work / f"{name}.mp4", work / "features", extractor=extractor)
            videos[name] = ("train", args.train_duration, events)
        for seed in DEMO_SEEDS:  # the demo videos form the held-out test subset
            name = f"demo_{seed}"
            video = demo_dir / "videos" / f"{name}.mp4"
            events = make_demo_video(video, duration=DEMO_DURATION, seed=seed)
            extract_features(video, demo_dir / "features", extractor=extractor, overwrite=True)
            (work / "features" / f"{name}.h5").write_bytes((demo_dir / "features" / f"{name}.h5").read_bytes())
            videos[name] = ("demo", DEMO_DURATION, events)
        write_annotations(work / "annotations.json", videos, extractor.spec)
        write_annotations(demo_dir / "annotations.json",
                          {k: v for k, v in videos.items() if v[0] == "demo"}, extractor.spec)
        print(f"videos generated and featurized in {time.time() - t0:.0f} s")

        fs = load_feature_set(work)
        # the small network of the synthetic preset keeps the bundled checkpoint under a few MB
        cfg = apply_overrides(load_preset("synthetic"), ["train.eval_every=50", "train.max_seqlen=80"])
        train(cfg, fs, out=REPO / "model" / "demo.pt", iterations=args.iterations, seed=args.seed,
              final_test=False)
        preds = predict_feature_set(REPO / "model" / "demo.pt", fs, "demo")
        res = detection_map(fs.annotations("demo"), preds, THUMOS_TIOUS)
    info = {
        "what": "SDANet demo checkpoint trained on generated videos (tools/build_demo.py)",
        "classes": list(DEMO_CLASSES), "extractor": extractor.config,
        "train_videos": args.train_videos, "train_seeds": [1000, 1000 + args.train_videos - 1],
        "iterations": args.iterations, "seed": args.seed,
        "demo_videos": [f"demo_{s}" for s in DEMO_SEEDS],
        "demo_mAP": {f"{t:.2f}": round(float(m), 4) for t, m in zip(res.tiou_thresholds, res.map)},
        "demo_average_mAP": round(float(res.average_map), 4),
        "build_seconds": round(time.time() - t0, 1),
    }
    (REPO / "model" / "demo.json").write_text(json.dumps(info, indent=1) + "\n")
    print(json.dumps(info, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
