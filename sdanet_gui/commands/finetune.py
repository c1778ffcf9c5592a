"""`sdanet finetune`: fine-tune a checkpoint on corrected videos, from a project or a feature set.

    sdanet finetune --project DIR [--ckpt BASE] [--adopt if-better|always|never] [--steps N]
                    [--out CKPT] [--trust-imported] [--replay PATH | --no-replay] [--seed S]
                    [--lr LR] [--snippet-weight W] [--holdout F] [--device DEV] [--json]
    sdanet finetune --ckpt BASE --data PATH --subset NAME [--steps N] [--seed S] [--lr LR]
                    [--snippet-weight W] [--holdout F] [--device DEV] [--json] --out CKPT

--project: the headless twin of the GUI's "Fine-tune", through the same review session
(session/finetuning.py, commands/_project_run.py). It opens the project for writing (so a
project open in the GUI is refused with the lock's message), starts from --ckpt or the active
model version's checkpoint (classes the project uses and it lacks are grown into it), freezes a
manifest of the reviewed material (cache/manifests/), runs the same `jobs.finetune_job.run_job`
the GUI's child process runs (tqdm progress on stderr), registers the new checkpoint as a model
version (parent = the base version, named "<base> ft<n>") and makes it active only as --adopt
says (default if-better: measurably better on fully reviewed held-out videos,
session/adoption.py). The base's own training set is replayed when its checkpoint records it
(`sdanet train --data`), unless --replay names another or --no-replay. --json prints one object
with "adopted", "reason", "active_version", "classes" and "held_out": {"before", "after",
"interval", "videos", "segments"} (fractions).
--data/--subset: the annotated segments of subset NAME count as fully reviewed corrections
(every other span of those videos is reviewed background). Both paths share one core
(`sdanet.finetune.finetune_videos`): same seed, same material, same checkpoint.

Thin: parse, load, call, print. torch is imported inside `run` only.
"""

from __future__ import annotations

NAME = "finetune"
HELP = "fine-tune a checkpoint on corrected videos and report held-out mAP before/after"


def add_arguments(parser) -> None:
    parser.add_argument("--project", metavar="DIR",
                        help="project folder: train on its reviewed videos, register the result as "
                             "a new model version and make it active")
    parser.add_argument("--ckpt", metavar="BASE", help="checkpoint to start from (.pt; with --project "
                        "default: the active model version's)")
    parser.add_argument("--data", metavar="PATH",
                        help="feature set: per-video feature folder, HDF5 file or W-TALC bundle")
    parser.add_argument("--subset", metavar="NAME",
                        help="subset whose annotated videos are the corrections")
    parser.add_argument("--out", metavar="CKPT", help="checkpoint file to write (.pt; with --project "
                        "default: a new file in the project's checkpoints/)")
    parser.add_argument("--steps", type=int, default=100, metavar="N", help="training steps (default 100)")
    parser.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    parser.add_argument("--lr", type=float, help="learning rate (default: the checkpoint's config)")
    parser.add_argument("--snippet-weight", type=float, default=1.0, metavar="W",
                        help="weight of the snippet-level loss on the corrections (default 1.0)")
    parser.add_argument("--holdout", type=float, default=0.2, metavar="F",
                        help="fraction of the annotated videos held out to measure (default 0.2, >= 1 video)")
    parser.add_argument("--annotations", metavar="PATH",
                        help="annotation file/folder when not found next to the features")
    parser.add_argument("--trust-imported", action="store_true",
                        help="with --project: count imported segments as reviewed corrections "
                             "(curated ground truth)")
    parser.add_argument("--replay", metavar="PATH",
                        help="with --project: the base's training feature set, mixed in against "
                             "forgetting (default: the one the base checkpoint records, if any)")
    parser.add_argument("--no-replay", action="store_true", help="with --project: no replay")
    parser.add_argument("--device", metavar="DEV", help="auto (default), cpu, cuda or cuda:N")
    parser.add_argument("--json", action="store_true", help="print the result as JSON")
    from ._project_run import add_project_arguments

    add_project_arguments(parser, cold=False)


def run(args) -> int:
    from ..errors import UserError

    if args.project:
        if args.data or args.subset or args.annotations:
            raise UserError("--project trains on the project's reviewed videos; --data, --subset "
                            "and --annotations are for a feature set (use one or the other)")
        return _run_project(args)
    missing = [f"--{n}" for n in ("ckpt", "data", "subset", "out") if not getattr(args, n)]
    if missing:
        raise UserError(f"{', '.join(missing)} {'is' if len(missing) == 1 else 'are'} required "
                        f"without --project")
    if args.trust_imported or args.replay or args.no_replay:
        raise UserError("--trust-imported, --replay and --no-replay work with --project only")
    return _run_subset(args)


def _run_subset(args) -> int:
    import json
    from pathlib import Path

    from ..errors import UserError

    data, ckpt, out = Path(args.data), Path(args.ckpt), Path(args.out)
    if not data.exists():
        raise UserError(f"{data}: data not found", path=data)
    if not ckpt.is_file():
        raise UserError(f"{ckpt}: checkpoint not found", path=ckpt)
    if out.is_dir():
        raise UserError(f"{out}: is a folder; give a checkpoint file name such as {out / 'model.pt'}",
                        path=out)

    from ..data.feature_sets import load_feature_set
    from ..sdanet.checkpoint import load_checkpoint
    from ..sdanet.finetune import finetune_feature_set

    _, meta = load_checkpoint(ckpt)
    # The data's own spec wins; the checkpoint's only fills in what the data does not say.
    # Both subsets named explicitly: a missing one is refused by the loader with the subsets
    # found, and the train/test choice (irrelevant here) raises no warnings.
    fs = load_feature_set(data, default_spec=meta.feature_spec, annotations=args.annotations,
                          train_subset=args.subset, test_subset=args.subset)
    result = finetune_feature_set(ckpt, fs, args.subset, steps=args.steps, out=out, seed=args.seed,
                                  lr=args.lr, snippet_weight=args.snippet_weight,
                                  holdout=args.holdout, device=args.device)
    f = result.metrics["finetune"]
    if args.json:
        print(json.dumps({"checkpoint": str(result.checkpoint), "parent": result.meta.parent, **f},
                         indent=2, default=str))
        return 0
    from ._project_run import print_figures

    print(f"checkpoint     {result.checkpoint} (parent {ckpt})")
    print(f"videos         {len(f['train_videos'])} trained on, {len(f['held_out'])} held out "
          f"(subset '{f['subset']}')")
    print_figures(f)
    return 0


def _run_project(args) -> int:
    """The window's Fine-tune, headless (commands/_project_run.py)."""
    from ..jobs.finetune_job import REPLAY_AUTO
    from ..session.finetuning import FinetuneOptions
    from ._project_run import run_in_project

    from ..errors import UserError

    if args.replay and args.no_replay:
        raise UserError("--replay PATH and --no-replay contradict each other (use one)")
    replay = None if args.no_replay else (args.replay or REPLAY_AUTO)
    options = FinetuneOptions(steps=args.steps, lr=args.lr, seed=args.seed, holdout=args.holdout,
                              replay=replay, snippet_weight=args.snippet_weight, device=args.device,
                              adopt=args.adopt)
    return run_in_project(args, options, checkpoint=args.ckpt, trust_imported=args.trust_imported,
                          empty_hint="" if args.trust_imported else
                          " (add --trust-imported to count imported ground truth)")
