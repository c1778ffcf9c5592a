"""`sdanet finetune`: fine-tune a checkpoint on the corrected videos of a feature set's subset.

    sdanet finetune --ckpt BASE --data PATH --subset NAME [--steps N] [--seed S] [--lr LR]
                    [--snippet-weight W] [--holdout F] [--device DEV] [--json] --out CKPT

The headless twin of the GUI's "Fine-tune": the annotated segments of subset NAME count as
fully reviewed corrections (every other span of those videos is reviewed background), a
seeded 20 % of the annotated videos (at least one) is held out and never trained on, and the
average mAP there is printed before and after. Same seed, same material, same checkpoint.
(`--project DIR` is not implemented yet.)

Thin: parse, load, call `sdanet.finetune.finetune_feature_set`, print. torch is imported
inside `run` only.
"""

from __future__ import annotations

NAME = "finetune"
HELP = "fine-tune a checkpoint on corrected videos and report held-out mAP before/after"


def add_arguments(parser) -> None:
    parser.add_argument("--ckpt", required=True, metavar="BASE", help="checkpoint to start from (.pt)")
    parser.add_argument("--data", required=True, metavar="PATH",
                        help="feature set: per-video feature folder, HDF5 file or W-TALC bundle")
    parser.add_argument("--subset", required=True, metavar="NAME",
                        help="subset whose annotated videos are the corrections")
    parser.add_argument("--out", required=True, metavar="CKPT", help="checkpoint file to write (.pt)")
    parser.add_argument("--steps", type=int, default=100, metavar="N", help="training steps (default 100)")
    parser.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    parser.add_argument("--lr", type=float, help="learning rate (default: the checkpoint's config)")
    parser.add_argument("--snippet-weight", type=float, default=1.0, metavar="W",
                        help="weight of the snippet-level loss on the corrections (default 1.0)")
    parser.add_argument("--holdout", type=float, default=0.2, metavar="F",
                        help="fraction of the annotated videos held out to measure (default 0.2, >= 1 video)")
    parser.add_argument("--annotations", metavar="PATH",
                        help="annotation file/folder when not found next to the features")
    parser.add_argument("--device", metavar="DEV", help="auto (default), cpu, cuda or cuda:N")
    parser.add_argument("--json", action="store_true", help="print the result as JSON")


def run(args) -> int:
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
    print(f"checkpoint     {result.checkpoint} (parent {ckpt})")
    print(f"videos         {len(f['train_videos'])} trained on, {len(f['held_out'])} held out "
          f"(subset '{f['subset']}')")
    print(f"steps          {f['steps']} at lr {f['lr']:g}, snippet loss weight {f['snippet_weight']:g}")
    for key, title in (("before", "held-out before"), ("after", "held-out after")):
        m = f[key]
        per = "  ".join(f"{t}:{100 * v:.1f}" for t, v in m["mAP"].items())
        avg = "n/a" if m["average_mAP"] is None else f"{100 * m['average_mAP']:.2f}"
        print(f"{title:15s} avg mAP {avg}  |  {per}")
    return 0
