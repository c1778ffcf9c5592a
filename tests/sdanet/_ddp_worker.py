"""Run by `torchrun --nproc_per_node=2` from test_distributed.py (not a test module itself).

Every rank trains the same tiny synthetic problem through the real `trainer.train` (gloo on
CPU) and writes the hash of its final and selected weights to OUT/rank<R>.json; rank 0 also
writes the checkpoint OUT/model.pt.
"""

import json
import os
import sys
from pathlib import Path

import torch

from sdanet_gui.data.synthetic import make_synthetic
from sdanet_gui.sdanet.config import SDANetConfig, apply_overrides
from sdanet_gui.sdanet.trainer import train

torch.set_num_threads(1)
out = Path(sys.argv[1])
cfg = apply_overrides(SDANetConfig(), [
    "model.hidden_dim=16", "model.sda_heads=2", "model.attention_hidden=8", "model.sda_ffn_dim=16",
    "model.pfm_proj_dim=8", "train.batch_size=4", "train.same_class_pairs=1", "train.max_seqlen=48",
    "train.lr=1e-3", "train.eval_every=3", "train.val_fraction=0.2"])
fs = make_synthetic(seed=1, num_classes=3, dim=8, train_videos=12, test_videos=0,
                    min_snippets=30, max_snippets=60)
steps = []
result = train(cfg, fs, out=out / "model.pt", iterations=6, seed=5, device="cpu",
               progress=lambda d: steps.append(d["step"]) if d["event"] == "step" else None)
rank = int(os.environ["RANK"])
(out / f"rank{rank}.json").write_text(json.dumps({
    "final": result.final_weights_hash, "selected": result.weights_hash,
    "world_size": int(os.environ["WORLD_SIZE"]), "progress_steps": steps,
    "checkpoint": str(result.checkpoint) if result.checkpoint else None,
    "meta_world_size": result.meta.metrics.get("world_size")}))
