"""`sdanet predict`: localize actions with a checkpoint and write ActivityNet-format results.

    sdanet predict --ckpt CKPT --data PATH [--subset NAME] --out PRED.json

Writes `{"version": ..., "results": {video: [{"label", "score", "segment": [start_s, end_s]}]},
"external_data": {}}` for the videos of one subset (default: the data's test subset; any
subset name present in the data). The checkpoint's classes and feature dims must match the data.
Thin: parse, call `sdanet.predict`, save through `data.annotations.save_predictions`.
"""

from __future__ import annotations

NAME = "predict"
HELP = "localize actions in a feature set with a checkpoint; write ActivityNet-format JSON"


def add_arguments(parser) -> None:
    parser.add_argument("--ckpt", required=True, metavar="CKPT", help="checkpoint written by 'sdanet train'")
    parser.add_argument("--data", required=True, metavar="PATH", help="feature set (same formats as train)")
    parser.add_argument("--out", required=True, metavar="PRED.json", help="result file to write")
    parser.add_argument("--subset", metavar="NAME",
                        help="subset to predict (default: the data's test subset); 'all' for every video")
    parser.add_argument("--annotations", metavar="PATH",
                        help="annotation file/folder when not found next to the features")
    parser.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                        help="override a post-processing value, e.g. --set post.nms_sigma=0.5")
    parser.add_argument("--version-string", default="sdanet", metavar="TEXT",
                        help="the 'version' field of the result file")
    parser.add_argument("--device", metavar="DEV", help="auto (default), cpu, cuda or cuda:N")


def run(args) -> int:
    import sys
    from pathlib import Path

    from ..data.annotations import save_predictions
    from ..data.feature_sets import load_feature_set
    from ..errors import UserError
    from ..sdanet.checkpoint import check_compatible
    from ..sdanet.config import SDANetConfig, apply_overrides
    from ..sdanet.localization import PostProcessing
    from ..sdanet.predict import load_model, predict_feature_set

    ckpt, data = Path(args.ckpt), Path(args.data)
    if not data.exists():
        raise UserError(f"{data}: data not found", path=data)
    if not ckpt.is_file():
        raise UserError(f"{ckpt}: checkpoint not found", path=ckpt)
    model, meta = load_model(ckpt, args.device)   # UserError for a damaged / foreign file
    try:
        fs = load_feature_set(data, annotations=args.annotations)
    except UserError:
        # Data that does not say its spec (a W-TALC bundle): the checkpoint's spec.
        fs = load_feature_set(data, annotations=args.annotations, spec=meta.feature_spec)
    check_compatible(meta, fs.classes, fs.spec, path=ckpt, data=f"the data ({data})")
    subset = args.subset or fs.test_subset
    if subset == "all":
        subset = None
    elif subset not in fs.subsets():
        raise UserError(f"subset '{subset}' is not in the data; available: "
                        f"{', '.join(fs.subsets()) or 'none'} (or 'all')", path=data)
    cfg = apply_overrides(SDANetConfig.from_checkpoint(meta.config), args.overrides)
    preds = predict_feature_set(model, fs, subset, meta=meta, params=PostProcessing.from_config(cfg))
    save_predictions(preds, Path(args.out), version=args.version_string)
    n = sum(len(v) for v in preds.values())
    print(f"wrote {n} segments for {len(preds)} videos ({subset or 'all'}) to {args.out}", file=sys.stderr)
    return 0
