"""Data-parallel training: two CPU processes under torchrun (gloo) train in lockstep.

The real trainer runs in both processes; after the run both ranks must hold identical weights
(DDP averages the gradients, so any divergence in sampling or reduction shows up as different
hashes), only rank 0 reports progress and writes the checkpoint.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

from sdanet_gui.sdanet.checkpoint import load_checkpoint, state_hash

WORKER = Path(__file__).with_name("_ddp_worker.py")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_two_gloo_ranks_end_with_identical_weights_and_one_checkpoint(tmp_path):
    env = {**os.environ, "OMP_NUM_THREADS": "1", "SDANET_DEVICE": "cpu"}
    cmd = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node=2", "--nnodes=1",
           "--master_addr=127.0.0.1", f"--master_port={_free_port()}", str(WORKER), str(tmp_path)]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=240, env=env)
    assert proc.returncode == 0, proc.stderr[-3000:]
    r0 = json.loads((tmp_path / "rank0.json").read_text())
    r1 = json.loads((tmp_path / "rank1.json").read_text())
    assert r0["world_size"] == r1["world_size"] == 2 == r0["meta_world_size"]
    assert r0["final"] == r1["final"], "ranks diverged: DDP did not keep the replicas in sync"
    assert r0["selected"] == r1["selected"], "ranks returned different selected models"
    assert r0["progress_steps"] == [1, 2, 3, 4, 5, 6] and r1["progress_steps"] == []
    assert r0["checkpoint"] and r1["checkpoint"] is None
    state, meta = load_checkpoint(tmp_path / "model.pt")
    assert state_hash(state) == r0["selected"]
    assert meta.metrics["world_size"] == 2 and meta.selection == "val"
