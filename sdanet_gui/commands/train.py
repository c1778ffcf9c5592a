"""`sdanet train`: train SDANet on a feature set and write a checkpoint, or a model of a
review project's own from its reviewed videos (a cold start).

    sdanet train --data PATH [--preset NAME] [--iterations N] [--set KEY=VALUE ...]
                 [--with MODULES] [--without MODULES] [--seed S] --out CKPT
    sdanet train --project DIR [--out CKPT] [--iterations N] [--seed S] [--holdout F]
                 [--adopt if-better|always|never] [--trust-imported] [--device DEV] [--json]
Multi-GPU / multi-machine: `torchrun --nproc_per_node=N -m sdanet_gui.cli train ...`.

--data: thin: parse, build the config, load the data, call `sdanet.trainer.train`, show
progress with tqdm (stderr) and print the final metrics. The checkpoint records where it was
trained (`sdanet.finetune.record_training_set`), so fine-tuning it later replays that set.
--project: the window's Model > New model from this project…: a model with widths that fit the
project's features (`sdanet.finetune.cold_start_config`) trained from nothing on the reviewed
videos, registered as a model version with the same held-out report and adopt rule as
`sdanet finetune --project` (commands/_project_run.py). torch is imported inside `run` only.
"""

from __future__ import annotations

NAME = "train"
HELP = "train SDANet on a feature set and write a checkpoint"


def add_arguments(parser) -> None:
    parser.add_argument("--data", metavar="PATH",
                        help="feature set: W-TALC bundle folder, per-video feature folder, or HDF5 file")
    parser.add_argument("--project", metavar="DIR",
                        help="review project: train a model of its own from its reviewed videos "
                             "(a cold start), registered as a model version")
    parser.add_argument("--out", metavar="CKPT", help="checkpoint file to write (.pt; with --project "
                        "default: a new file in the project's checkpoints/)")
    parser.add_argument("--preset", metavar="NAME",
                        help="hyperparameter preset (thumos14, activitynet1.2, activitynet1.3, synthetic) or a JSON file")
    parser.add_argument("--iterations", type=int, metavar="N", help="training steps (default: preset)")
    parser.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                        help="override a config value, e.g. --set train.lr=1e-4 (repeatable)")
    parser.add_argument("--with", dest="with_modules", metavar="MODULES",
                        help="switch modules on: comma list or all (all = the paper's full method, "
                             "whatever the preset leaves off)")
    parser.add_argument("--without", metavar="MODULES",
                        help="switch modules off: comma list of mtff,sda,pfm,similarity,reconstruction or all")
    parser.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    parser.add_argument("--annotations", metavar="PATH",
                        help="annotation file/folder when not found next to the features")
    parser.add_argument("--train-subset", metavar="NAME", help="subset to train on (default: data/preset)")
    parser.add_argument("--test-subset", metavar="NAME", help="subset to test on (default: data/preset)")
    parser.add_argument("--fps", type=float,
                        help="feature frame rate, for data that does not say it (e.g. a W-TALC bundle; "
                             "dims then come from --set data.modalities, default rgb 1024 + flow 1024)")
    parser.add_argument("--snippet-frames", type=int, metavar="N",
                        help="frames per snippet (and stride), for data that does not say it")
    parser.add_argument("--batch-size", type=int, metavar="B", help="videos per batch (default: preset)")
    parser.add_argument("--lr", type=float, help="learning rate (default: preset)")
    parser.add_argument("--val-fraction", type=float, metavar="F",
                        help="fraction of the training videos held out for model selection (default: preset)")
    parser.add_argument("--eval-every", type=int, metavar="N", help="validate every N steps (default: preset)")
    parser.add_argument("--select-on-test", action="store_true",
                        help="the family's protocol: keep the weights that score best ON THE TEST SET "
                             "(optimistic; the checkpoint and output say so)")
    parser.add_argument("--init", metavar="CKPT", help="start from this checkpoint's weights (fine-tuning)")
    parser.add_argument("--device", metavar="DEV", help="auto (default), cpu, cuda or cuda:N")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    parser.add_argument("--json", action="store_true", help="print the final metrics as JSON")
    from ._project_run import add_project_arguments

    add_project_arguments(parser, cold=True)


def build_config(args):
    """SDANetConfig from --preset, --set, --with, --without (in that order) and the shorthand flags."""
    from ..sdanet.config import SDANetConfig, apply_overrides, apply_with, apply_without, load_preset

    cfg = load_preset(args.preset) if args.preset else SDANetConfig()
    overrides = list(args.overrides or [])
    for flag, key in (("batch_size", "train.batch_size"), ("lr", "train.lr"),
                      ("val_fraction", "train.val_fraction"), ("eval_every", "train.eval_every"),
                      ("iterations", "train.iterations")):
        value = getattr(args, flag, None)
        if value is not None:
            overrides.append(f"{key}={value}")
    if getattr(args, "fps", None) is not None:
        overrides.append(f"data.fps={args.fps}")
    if getattr(args, "snippet_frames", None) is not None:
        overrides += [f"data.snippet_frames={args.snippet_frames}",
                      f"data.stride_frames={args.snippet_frames}"]
    if getattr(args, "select_on_test", False):
        overrides.append("train.select_on_test=true")
    overrides.append(f"train.seed={args.seed}")
    cfg = apply_overrides(cfg, overrides)
    return apply_without(apply_with(cfg, getattr(args, "with_modules", None)), args.without)


def load_data(args, cfg, preset_given: bool, spec_given: bool):
    """The feature set, with the preset's subsets as defaults where the data names none, and
    the preset's / flags' feature spec where the data does not say its own."""
    from pathlib import Path

    from ..data.feature_sets import load_feature_set
    from ..errors import UserError

    path = Path(args.data)
    if not path.exists():
        raise UserError(f"{path}: data not found", path=path)
    kwargs = dict(annotations=args.annotations, train_subset=getattr(args, "train_subset", None),
                  test_subset=getattr(args, "test_subset", None),
                  preset_subsets=(cfg.data.train_subset, cfg.data.test_subset) if preset_given else None)
    # The data's own spec wins; a preset or flags only fill in what the data does not say
    # (a W-TALC bundle records no fps / snippet length), never its feature dims.
    return load_feature_set(path, default_spec=cfg.feature_spec() if spec_given else None, **kwargs)


def run(args) -> int:
    import json
    import sys
    from pathlib import Path

    from ..errors import UserError

    if args.project:
        return _run_project(args)
    missing = [f"--{n}" for n in ("data", "out") if not getattr(args, n)]
    if missing:
        raise UserError(f"{' and '.join(missing)} {'is' if len(missing) == 1 else 'are'} required "
                        f"without --project")
    if not Path(args.data).exists():
        raise UserError(f"{args.data}: data not found", path=args.data)
    out = Path(args.out)
    if out.is_dir():
        raise UserError(f"{out}: is a folder; give a checkpoint file name such as {out / 'model.pt'}",
                        path=out)
    if args.init and not Path(args.init).is_file():
        raise UserError(f"{args.init}: checkpoint not found", path=args.init)
    cfg = build_config(args)
    print(describe_modules(cfg), file=sys.stderr if args.json else sys.stdout, flush=True)
    spec_given = bool(args.preset) or any(o.startswith("data.") for o in args.overrides or []) \
        or args.fps is not None or args.snippet_frames is not None
    fs = load_data(args, cfg, bool(args.preset), spec_given)

    from ..sdanet.trainer import train
    bar = None
    show = not args.no_progress and not args.json

    def progress(info: dict) -> None:
        nonlocal bar
        if not show:
            return
        if bar is None:
            from tqdm import tqdm

            bar = tqdm(total=info["total"], desc="train", unit="step", file=sys.stderr,
                       dynamic_ncols=True, leave=False, disable=None)  # None: off when not a TTY
        if info.get("event") == "step":
            bar.update(info["step"] - bar.n)
            post = {"loss": f"{info['loss']:.4f}", "snip/s": f"{info['snippets_per_s']:.0f}"}
            if info.get("best_metric") is not None:
                post["val_mAP"] = f"{100 * info['best_metric']:.1f}"
            bar.set_postfix(post, refresh=False)
        elif info.get("event") == "done":
            bar.close()

    result = train(cfg, fs, out=out, iterations=cfg.train.iterations, seed=args.seed,
                   init_checkpoint=args.init, progress=progress, device=args.device)
    if bar is not None:
        bar.close()
    if result.checkpoint is None:  # a non-zero torchrun rank: rank 0 reports
        return 0
    from ..sdanet.checkpoint import load_checkpoint, save_checkpoint
    from ..sdanet.finetune import record_training_set

    state, meta = load_checkpoint(result.checkpoint)   # the same weights, now saying where they
    record_training_set(meta, fs)                      # were trained (replayed by fine-tuning)
    save_checkpoint(result.checkpoint, state, meta)
    m = result.metrics
    if args.json:
        print(json.dumps({"checkpoint": str(result.checkpoint), "selection": result.meta.selection,
                          **m}, indent=2, default=str))
        return 0
    print(f"checkpoint     {result.checkpoint}")
    print(f"device         {m.get('device')}" + (f" x {m['world_size']} processes" if m.get("world_size", 1) > 1 else ""))
    print(f"steps          {m['steps']}{' (stopped early)' if m.get('stopped_early') else ''}; "
          f"selected step {m['best_step']} by {_selection_words(result.meta.selection)}")
    print(f"throughput     {m['snippets_per_s']:.0f} snippets/s over {m['train_seconds']:.1f} s")
    print(f"videos         {m['train_videos']} train, {m['val_videos']} "
          f"{'test (selection)' if result.meta.selection == 'test' else 'validation'}")
    for key, title in (("val", "validation"), ("test", "test")):
        if key in m:
            _print_map(title, m[key])
    if result.meta.selection == "test":
        print("NOTE           selected on the TEST set (the family's protocol): test mAP is optimistic")
    return 0


def describe_modules(cfg) -> str:
    """One line: the preset and which of SDANet's five modules are on / off."""
    from ..sdanet.config import MODULE_NAMES

    on = cfg.enabled_modules()
    off = [m for m in MODULE_NAMES if m not in on]
    return (f"preset {cfg.preset or '(none: defaults)'}: modules on: {', '.join(on) or 'none (the CO2-Net baseline)'}"
            + (f"; off: {', '.join(off)} (the paper's full method: --with all; docs/ablation.md says "
               f"what each module measured)" if off else ""))


def _selection_words(selection: str) -> str:
    return {"val": "validation mAP (split of the training videos)",
            "test": "TEST-set mAP (--select-on-test)", "last": "last step (no validation)"}[selection]


def _print_map(title: str, metrics: dict) -> None:
    per = "  ".join(f"{t}:{100 * v:.1f}" for t, v in metrics["mAP"].items())
    print(f"{title + ' mAP':14s} avg {100 * metrics['average_mAP']:.2f}  |  {per}")


# flags of the --data form (dest -> flag), refused with --project
DATA_ONLY = {"data": "--data", "preset": "--preset", "overrides": "--set", "with_modules": "--with", "without": "--without",
             "annotations": "--annotations", "train_subset": "--train-subset",
             "test_subset": "--test-subset", "fps": "--fps", "snippet_frames": "--snippet-frames",
             "batch_size": "--batch-size", "lr": "--lr", "val_fraction": "--val-fraction",
             "eval_every": "--eval-every", "select_on_test": "--select-on-test", "init": "--init"}


def _run_project(args) -> int:
    """Model > New model from this project…, headless (commands/_project_run.py)."""
    from ..errors import UserError
    from ..session.finetuning import FinetuneOptions
    from ..sdanet.finetune import COLD_START_STEPS
    from ._project_run import run_in_project

    given = [flag for dest, flag in DATA_ONLY.items() if getattr(args, dest, None) not in (None, [], False)]
    if given:
        raise UserError(f"--project trains on the project's reviewed videos with a config that fits "
                        f"their features; {', '.join(given)} {'is' if len(given) == 1 else 'are'} for "
                        f"--data (use one or the other)")
    options = FinetuneOptions(steps=args.iterations or COLD_START_STEPS, seed=args.seed, holdout=args.holdout,
                              replay=None, device=args.device, adopt=args.adopt, cold_start=True)
    return run_in_project(args, options, trust_imported=args.trust_imported,
                          empty_hint="" if args.trust_imported else
                          " (add --trust-imported to count imported ground truth)")
