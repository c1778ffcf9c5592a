"""Data-parallel training under torchrun: process group, model wrapping, rank roles.

Why it exists: `torchrun --nproc_per_node=N -m sdanet_gui.cli train ...` must train the same
model as a single process, only faster. torchrun sets RANK, WORLD_SIZE, LOCAL_RANK and
MASTER_ADDR/PORT; `init_from_env()` turns them into a `DistContext` (nccl on CUDA, gloo on CPU),
the trainer wraps its model with `wrap_model` (DistributedDataParallel), every rank draws the
same global batch from one seeded stream and takes its own shard (see `dataset.FamilySampler`),
and only rank 0 (`ctx.is_main`) validates, reports progress and writes checkpoints.

Without those variables (or WORLD_SIZE=1) everything here is a no-op and `DistContext.single()`
is returned. This module never chooses a device by itself (device.py does) and never samples.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import timedelta

COLLECTIVE_TIMEOUT_MIN = 60


@dataclass(frozen=True)
class DistContext:
    rank: int = 0
    world_size: int = 1
    local_rank: int = 0
    backend: str = ""

    @property
    def enabled(self) -> bool:
        return self.world_size > 1

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    @classmethod
    def single(cls) -> "DistContext":
        return cls()


def env_world_size() -> int:
    try:
        return int(os.environ.get("WORLD_SIZE", "1"))
    except ValueError:
        return 1


def env_local_rank() -> int | None:
    v = os.environ.get("LOCAL_RANK")
    return int(v) if v is not None and v.isdigit() else None


def init_from_env(device_type: str) -> DistContext:
    """Join the process group torchrun describes; single-process context when there is none."""
    import torch.distributed as dist

    world = env_world_size()
    if world <= 1:
        return DistContext.single()
    rank = int(os.environ["RANK"])
    local_rank = env_local_rank() or 0
    backend = "nccl" if device_type == "cuda" else "gloo"
    if not dist.is_initialized():
        if device_type == "cuda":
            import torch

            torch.cuda.set_device(local_rank)
        # Rank 0 validates while the others wait in the next all-reduce: allow a long wait.
        dist.init_process_group(backend=backend, rank=rank, world_size=world,
                                timeout=timedelta(minutes=COLLECTIVE_TIMEOUT_MIN))
    return DistContext(rank=rank, world_size=world, local_rank=local_rank, backend=backend)


def wrap_model(model, ctx: DistContext, device):
    """DistributedDataParallel around `model` when distributed, else the model itself."""
    if not ctx.enabled:
        return model
    from torch.nn.parallel import DistributedDataParallel

    ids = [device.index] if device.type == "cuda" and device.index is not None else None
    # Some loss branches (e.g. PFM when a batch has no ambiguous snippets) leave parameters
    # without gradient in a step; DDP must not wait for them.
    return DistributedDataParallel(model, device_ids=ids, find_unused_parameters=True)


def unwrap(model):
    return getattr(model, "module", model)


def any_rank(flags: list[bool], ctx: DistContext, device) -> list[bool]:
    """Each flag OR-ed over all ranks in one all-reduce (so a NaN, a stop or a cancel on any
    rank makes every rank leave the loop at the same step)."""
    if not ctx.enabled:
        return [bool(f) for f in flags]
    import torch
    import torch.distributed as dist

    t = torch.tensor([1.0 if f else 0.0 for f in flags], device=device)
    dist.all_reduce(t, op=dist.ReduceOp.MAX)
    return [bool(x > 0.5) for x in t.tolist()]


def broadcast_object(obj, ctx: DistContext):
    """Rank 0's value of a small picklable object on every rank (ranks are our own processes)."""
    if not ctx.enabled:
        return obj
    import torch.distributed as dist

    box = [obj]
    dist.broadcast_object_list(box, src=0)
    return box[0]


def barrier(ctx: DistContext) -> None:
    if ctx.enabled:
        import torch.distributed as dist

        dist.barrier()


def shutdown(ctx: DistContext) -> None:
    if ctx.enabled:
        import torch.distributed as dist

        if dist.is_initialized():
            dist.destroy_process_group()
