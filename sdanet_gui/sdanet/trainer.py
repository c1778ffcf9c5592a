"""The one SDANet trainer: used by `sdanet train` and by the GUI's fine-tuning.

Why it exists: training, model selection and checkpointing must behave identically whether a
researcher runs the CLI (tqdm on top of the progress callback), torchrun runs it on N GPUs, or the
GUI runs it in a child process (progress messages, Stop/Cancel buttons). So `train()` knows
nothing about its caller: it reports through `progress(dict)` and polls a `StopFlag`.

Protocol:
- Device and precision from `device.choose_device` (CUDA + autocast when present, else CPU fp32).
- Seeded: same seed, same data, same config on CPU -> identical weights. The batch stream comes
  from one numpy generator shared by all ranks, clip resampling from a per-rank one.
- Model selection on a validation split carved from the TRAINING videos (`val_fraction`); the
  family's "best on test" protocol only with `select_on="test"`, which the checkpoint metadata
  and the result name ("selection": "test"). `select_on="last"` keeps the final weights.
- Training videos without any labelled action are left out (the top-k MIL loss needs a video
  label); all features of the training videos are held in memory, as the family does.
- A non-finite loss, or non-finite attention / class activations of the network (checked
  before the losses see them), raises `TrainingDiverged` (a UserError naming the step) before
  any checkpoint is written.
- `StopFlag.request_stop()` ends training after the current step and keeps the best weights so
  far (written to `out`); `request_cancel()` raises `Cancelled` and writes nothing.

Progress dicts (plain data, picklable): event ("step" / "done"), step, total, loss (total),
losses {term: value}, lr, snippets_per_s, eta_s, elapsed_s; on evaluation steps also
val {"average_mAP", "mAP": {tiou: value}}, best_step, best_metric.

This module never prints and never imports a UI toolkit.
"""

from __future__ import annotations

import logging
import math
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Sequence

import numpy as np

from ..data.structures import FeatureSet, FeatureVideo
from ..errors import Cancelled, UserError
from . import distributed as dist_util
from .checkpoint import (CheckpointMeta, check_compatible, data_fingerprint, load_checkpoint, load_weights,
                         save_checkpoint, state_hash)
from .dataset import FamilySampler, TrainingVideos, make_batch, split_validation
from .device import choose_device

log = logging.getLogger(__name__)

SELECTIONS = ("val", "test", "last")


class TrainingDiverged(UserError):
    """The loss became NaN or infinite; no checkpoint was written."""


class StopFlag:
    """Cooperative Stop (keep the best so far) / Cancel (discard) for a running training.

    The events may be `threading.Event`s (same process) or `multiprocessing.Event`s (the GUI
    runs training in a child process); anything with `set()` and `is_set()` works.
    """

    def __init__(self, stop_event=None, cancel_event=None):
        self.stop_event = stop_event if stop_event is not None else threading.Event()
        self.cancel_event = cancel_event if cancel_event is not None else threading.Event()

    def request_stop(self) -> None:
        self.stop_event.set()

    def request_cancel(self) -> None:
        self.cancel_event.set()

    @property
    def stop_requested(self) -> bool:
        return self.stop_event.is_set()

    @property
    def cancel_requested(self) -> bool:
        return self.cancel_event.is_set()


@dataclass
class TrainResult:
    model: object                      # the selected SDANet (unwrapped), eval mode, on its device
    meta: CheckpointMeta
    checkpoint: Path | None            # where it was written (rank 0 with `out` only)
    steps_done: int
    stopped: bool                      # ended early by StopFlag.request_stop()
    history: list[dict] = field(default_factory=list)   # one entry per validation
    weights_hash: str = ""             # state_hash of the selected weights
    final_weights_hash: str = ""       # state_hash of the weights after the last step

    @property
    def metrics(self) -> dict:
        return self.meta.metrics


# --- the trainer -----------------------------------------------------------------------------
def train(cfg, feature_set: FeatureSet, *, out: str | Path | None = None, iterations: int | None = None,
          seed: int = 0, init_checkpoint: str | Path | None = None,
          progress: Callable[[dict], None] | None = None, cancel: StopFlag | None = None,
          val_fraction: float | None = None, select_on: str | None = None,
          snippet_targets: dict[str, np.ndarray] | None = None, eval_every: int | None = None,
          device: str | None = None, train_videos: Sequence[str] | None = None,
          final_test: bool = True) -> TrainResult:
    """Train SDANet on `feature_set`'s training subset and return the selected model.

    cfg: SDANetConfig. iterations / eval_every / val_fraction: default from `cfg.train`;
    select_on: "val" (default), "test" (default when cfg.train.select_on_test) or "last";
    train_videos: restrict training to these video names (the GUI's reviewed videos); snippet_targets: {video: long [T]} (-1 unknown, 0 background,
    c+1 class c) for fine-tuning on corrected segments; final_test: also evaluate the selected
    model on the test subset (never used for selection unless select_on="test").
    """
    from .losses import compute_losses

    if select_on is None:
        select_on = "test" if cfg.train.select_on_test else "val"
    if val_fraction is None:
        val_fraction = cfg.train.val_fraction
    if select_on not in SELECTIONS:
        raise UserError(f"unknown model selection '{select_on}' (choose {', '.join(SELECTIONS)})")
    total = int(iterations if iterations is not None else cfg.train.iterations)
    if total < 1:
        raise UserError(f"iterations must be at least 1, got {total}")
    cancel = cancel or StopFlag()

    plan = choose_device(device, local_rank=dist_util.env_local_rank())
    ctx = dist_util.init_from_env(plan.type)
    try:
        return _train(cfg, feature_set, out=out, total=total, seed=seed, init_checkpoint=init_checkpoint,
                      progress=progress, cancel=cancel, val_fraction=val_fraction, select_on=select_on,
                      snippet_targets=snippet_targets, eval_every=eval_every, plan=plan, ctx=ctx,
                      train_videos=train_videos, final_test=final_test, compute_losses=compute_losses)
    finally:
        dist_util.shutdown(ctx)


def _pick_videos(feature_set: FeatureSet, train_videos):
    pool = feature_set.by_subset(feature_set.train_subset)
    if train_videos is not None:
        wanted = set(train_videos)
        pool = [v for v in feature_set.videos if v.name in wanted]
        missing = wanted - {v.name for v in pool}
        if missing:
            raise UserError(f"training videos not in the data: {', '.join(sorted(missing)[:5])}",
                            path=feature_set.source or None)
    if not pool:
        raise UserError(f"no training videos: subset '{feature_set.train_subset}' is empty "
                        f"(subsets in the data: {', '.join(feature_set.subsets()) or 'none'}; "
                        f"choose one with --train-subset)", path=feature_set.source or None)
    labelled = [v for v in pool if v.annotation.labels]
    if not labelled:
        raise UserError(f"the {len(pool)} training videos have no labelled actions",
                        path=feature_set.source or None)
    unknown = sorted({lab for v in labelled for lab in v.annotation.labels} - set(feature_set.classes))
    if unknown:
        raise UserError(f"training labels outside the class list: {', '.join(unknown[:5])}",
                        path=feature_set.source or None)
    return labelled


def _train(cfg, feature_set, *, out, total, seed, init_checkpoint, progress, cancel, val_fraction,
           select_on, snippet_targets, eval_every, plan, ctx, train_videos, final_test,
           compute_losses) -> TrainResult:
    import torch

    from .localization import PostProcessing
    from .network import SDANet

    torch.manual_seed(seed)
    np_seed = np.random.SeedSequence(seed)
    batch_rng = np.random.default_rng(np_seed.spawn(1)[0])                   # same on all ranks
    clip_rng = np.random.default_rng(np.random.SeedSequence([seed, 1, ctx.rank]))  # per rank

    pool = _pick_videos(feature_set, train_videos)
    test_videos = feature_set.by_subset(feature_set.test_subset) if feature_set.test_subset else []
    if select_on == "val":
        train_list, val_list = split_validation(feature_set, pool, val_fraction, seed)
        if not val_list:
            log.warning("too few training videos for a validation split; keeping the last weights")
            select_on = "last"
    else:
        train_list, val_list = pool, []
    if select_on == "test":
        val_list = [v for v in test_videos if v.annotation.segments]
        if not val_list:
            raise UserError(f"--select-on-test needs annotated test videos; subset "
                            f"'{feature_set.test_subset}' has none", path=feature_set.source or None)
    data = TrainingVideos.load(feature_set, train_list, snippet_targets)
    fingerprint = data_fingerprint(data.names, [f.shape for f in data.features], data.labels)

    model = SDANet(cfg, feature_set.spec, len(feature_set.classes))
    parent = None
    if init_checkpoint is not None:
        state, pmeta = load_checkpoint(init_checkpoint)
        check_compatible(pmeta, feature_set.classes, feature_set.spec, path=init_checkpoint,
                         data=f"the data ({feature_set.source or 'feature set'})")
        load_weights(model, state, init_checkpoint)
        parent = {"path": str(init_checkpoint), "weights": state_hash(state)[:16],
                  "data_fingerprint": pmeta.data_fingerprint, "step": pmeta.step}
    model.to(plan.device)
    net = dist_util.wrap_model(model, ctx, plan.device)
    net.train()

    lr = cfg.effective_lr(feature_set.spec) if hasattr(cfg, "effective_lr") else float(cfg.train.lr)
    opt = torch.optim.Adam(model.parameters(), lr=lr, weight_decay=float(cfg.train.weight_decay))
    scaler = plan.make_scaler()
    clip = cfg.train.grad_clip
    sampler = FamilySampler(data.labels, cfg.train.batch_size, cfg.train.same_class_pairs, batch_rng)
    max_seqlen = int(cfg.train.max_seqlen)
    stretch = cfg.train.resample == "stretch"
    loss_cfg = cfg
    if sampler.pairs != cfg.train.same_class_pairs:   # too few videos per class for all pairs
        log.warning("using %d same-class pairs per batch instead of %d (not enough videos per "
                    "class or batch too small)", sampler.pairs, cfg.train.same_class_pairs)
        loss_cfg = cfg.copy()
        loss_cfg.train.same_class_pairs = sampler.pairs
    eval_every = max(1, int(eval_every if eval_every is not None else cfg.train.eval_every))
    params = PostProcessing.from_config(cfg)
    tious = [float(t) for t in cfg.eval.tiou_thresholds]

    best_metric, best_step, best_state, best_val = -math.inf, 0, None, None
    history: list[dict] = []
    stopped = False
    step = 0
    train_time, snippets_seen = 0.0, 0
    started = time.perf_counter()
    n_evals_left = lambda s: (total // eval_every) - (s // eval_every)  # noqa: E731
    eval_time = 0.0
    for step in range(1, total + 1):
        t0 = time.perf_counter()
        shard = sampler.global_batch(ctx.world_size)[ctx.rank]
        batch = make_batch(data, shard, max_seqlen, clip_rng, stretch)
        batch = {k: v.to(plan.device, non_blocking=True) for k, v in batch.items()}
        with plan.autocast():
            output = net(batch["features"], batch["mask"])
            # Diverged weights give NaN outputs; the losses must not see them (the attention
            # BCE refuses values outside [0, 1], on CUDA with a fatal device-side assert).
            outputs_finite = _outputs_finite(output, batch["mask"])
            losses = compute_losses(output, batch, loss_cfg) if outputs_finite else None
        loss = losses["total"] if losses is not None else torch.tensor(float("nan"))
        finite = outputs_finite and bool(torch.isfinite(loss.detach().float()).item())
        bad, stop_req, cancel_req = dist_util.any_rank(
            [not finite, cancel.stop_requested, cancel.cancel_requested], ctx, plan.device)
        if bad:
            if not outputs_finite:
                what = "the network's outputs became NaN/inf"
            elif finite:
                what = "the loss became NaN/inf in another process"
            else:
                terms = [k for k, v in losses.items()
                         if k != "total" and not bool(torch.isfinite(v.detach()).all())]
                what = (f"the loss became {float(loss.detach().float().item())}"
                        f"{' in ' + ', '.join(terms) if terms else ''}")
            raise TrainingDiverged(
                f"training diverged at step {step}: {what}; nothing was written"
                f"{' to ' + str(out) if out else ''} (check that the features are normalised, or "
                f"lower the learning rate train.lr, now {cfg.train.lr:g}, e.g. to {cfg.train.lr / 10:g})")
        if cancel_req:
            raise Cancelled("training cancelled; nothing was written")
        opt.zero_grad(set_to_none=True)
        scaler.scale(loss).backward()
        if clip:
            scaler.unscale_(opt)
            torch.nn.utils.clip_grad_norm_(model.parameters(), float(clip))
        scaler.step(opt)
        scaler.update()
        snippets_seen += int(batch["mask"].sum().item()) * ctx.world_size
        train_time += time.perf_counter() - t0

        report = None
        if ctx.is_main and (progress is not None or step % eval_every == 0 or step == total):
            steps_per_s = step / train_time if train_time > 0 else 0.0
            per_eval = eval_time / max(1, len(history))
            report = {
                "event": "step", "step": step, "total": total,
                "loss": float(loss.detach().float().item()),
                "losses": {k: float(v.detach().float().item()) for k, v in losses.items() if k != "total"},
                "lr": float(opt.param_groups[0]["lr"]),
                "snippets_per_s": snippets_seen / train_time if train_time > 0 else 0.0,
                "eta_s": (total - step) / steps_per_s + per_eval * n_evals_left(step) if steps_per_s else None,
                "elapsed_s": time.perf_counter() - started,
            }
        if ctx.is_main and val_list and (step % eval_every == 0 or step == total):
            te = time.perf_counter()
            metrics = evaluate_model(model, feature_set, val_list, params, tious, plan,
                                     cancel=lambda: cancel.cancel_requested)
            eval_time += time.perf_counter() - te
            metric = metrics["average_mAP"]
            metric = -math.inf if metric is None or not math.isfinite(metric) else metric
            history.append({"step": step, **metrics})
            if metric > best_metric:
                best_metric, best_step, best_val = metric, step, metrics
                best_state = {k: v.detach().to("cpu").clone() for k, v in model.state_dict().items()}
            report.update({"val": metrics, "best_step": best_step,
                           "best_metric": best_metric if math.isfinite(best_metric) else None})
        if report is not None and progress is not None:
            progress(report)
        if stop_req:
            stopped = True
            break
        # Evaluation and the progress callback are where a request most likely arrives; pick it
        # up here so a Stop/Cancel never waits for a further full step.
        if not ctx.enabled and (cancel.cancel_requested or cancel.stop_requested):
            if cancel.cancel_requested:
                raise Cancelled("training cancelled; nothing was written")
            stopped = True
            break
    steps_done = step

    final_state = {k: v.detach().to("cpu").clone() for k, v in model.state_dict().items()}
    final_hash = state_hash(final_state)
    # Only rank 0 validates; every rank returns rank 0's selection so all hold the same model.
    best_state, best_step, best_val = dist_util.broadcast_object((best_state, best_step, best_val), ctx)
    if best_state is None:       # no validation ran (select "last", or stopped before the first)
        selection = "last"
        best_state, best_step = final_state, steps_done
    else:
        selection = select_on
    model.load_state_dict(best_state)
    model.eval()

    metrics = {"steps": steps_done, "best_step": best_step, "snippets_per_s":
               snippets_seen / train_time if train_time > 0 else 0.0, "train_seconds": train_time,
               "train_videos": len(train_list), "val_videos": len(val_list),
               "stopped_early": stopped, "tiou_thresholds": tious, "device": plan.describe(),
               "world_size": ctx.world_size, "seed": seed, "lr": lr}
    if best_val is not None:
        metrics["val" if selection == "val" else "selection_set"] = best_val
    if selection == "test":
        metrics["note"] = "selected by test-set mAP (the family's protocol): test figures are optimistic"
    if ctx.is_main and final_test and selection != "test":
        annotated = [v for v in test_videos if v.annotation.segments]
        if annotated:
            metrics["test"] = evaluate_model(model, feature_set, annotated, params, tious, plan,
                                             cancel=lambda: cancel.cancel_requested)
    elif selection == "test" and best_val is not None:
        metrics["test"] = best_val

    to_dict = getattr(cfg, "to_dict", None)
    meta = CheckpointMeta(classes=list(feature_set.classes), spec=feature_set.spec.to_dict(),
                          config=to_dict() if to_dict else dict(vars(cfg)),
                          data_fingerprint=fingerprint, metrics=metrics, selection=selection,
                          step=best_step, parent=parent)
    written = None
    if out is not None and ctx.is_main:
        save_checkpoint(out, best_state, meta)
        written = Path(out)
    if progress is not None and ctx.is_main:
        progress({"event": "done", "step": steps_done, "total": total, "stopped": stopped,
                  "selection": selection, "best_step": best_step, "metrics": metrics,
                  "checkpoint": str(written) if written else None})
    dist_util.barrier(ctx)
    return TrainResult(model=model, meta=meta, checkpoint=written, steps_done=steps_done,
                       stopped=stopped, history=history, weights_hash=state_hash(best_state),
                       final_weights_hash=final_hash)


def _outputs_finite(output, mask) -> bool:
    """True when the attention and class activations of the valid snippets are all finite."""
    import torch

    parts = [output.cas[mask], output.attention[mask],
             *(a[mask] for a in output.modality_attention.values())]
    return bool(torch.stack([torch.isfinite(p.detach()).all() for p in parts]).all().item())


def evaluate_model(model, feature_set: FeatureSet, videos: Sequence[FeatureVideo], params,
                   tious: Sequence[float], plan=None, cancel=None, per_class: bool = False) -> dict:
    """Detection mAP of `model` on annotated `videos`: {"average_mAP", "mAP": {"0.10": ...}};
    with `per_class` also "per_class": {class: AP averaged over `tious`} (classes with ground
    truth among `videos` only)."""
    from .evaluation import detection_map
    from .predict import predict_videos

    preds = predict_videos(model, feature_set.spec, feature_set.classes, videos, params, plan,
                           cancel=cancel)
    gt = feature_set.annotations(None)
    gt.videos = {v.name: v.annotation for v in videos}
    res = detection_map(gt, preds, list(tious), classes=list(feature_set.classes))
    maps = [float(x) for x in np.asarray(res.map).reshape(-1)]
    out = {"average_mAP": float(res.average_map),
           "mAP": {f"{t:.2f}": m for t, m in zip(tious, maps)}}
    if per_class:
        out["per_class"] = {c: row["average"] for c, row in res.per_class.items()}
    return out
