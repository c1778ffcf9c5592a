"""`sdanet synth OUT`: write the seeded synthetic feature set (the engine's test bed).

Thin: parse, call `sdanet_gui.data.synthetic.write_synthetic`, report. The generative model is
documented in that module. numpy is imported inside `run` only.
"""

from __future__ import annotations

NAME = "synth"
HELP = "write a seeded synthetic feature set with planted action instances (pervideo or W-TALC)"


def add_arguments(parser) -> None:
    parser.add_argument("out", metavar="OUT", help="folder to write the feature set into")
    parser.add_argument("--classes", type=int, default=5, metavar="C", help="number of classes (default 5)")
    parser.add_argument("--dim", type=int, default=64, metavar="D",
                        help="feature dimension per modality, rgb + flow (default 64)")
    parser.add_argument("--train-videos", type=int, default=40, metavar="N", help="default 40")
    parser.add_argument("--test-videos", type=int, default=20, metavar="N", help="default 20")
    parser.add_argument("--min-snippets", type=int, default=80, metavar="T", help="default 80")
    parser.add_argument("--max-snippets", type=int, default=200, metavar="T", help="default 200")
    parser.add_argument("--seed", type=int, default=0, metavar="S", help="default 0")
    parser.add_argument("--domain", type=float, default=0.0, metavar="X",
                        help="appearance shift: 0 = the training domain, 1 = a shifted one (default 0)")
    parser.add_argument("--mode", choices=("gaussian", "i3d"), default="gaussian",
                        help="gaussian: class directions in AR(1) noise (default); i3d: non-negative, "
                             "sparse, shot-structured features like two-stream I3D")
    parser.add_argument("--format", dest="fmt", choices=("pervideo", "wtalc"), default="pervideo",
                        help="pervideo: features/<video>.npy + annotations.json; wtalc: W-TALC bundle")


def run(args) -> int:
    from ..data.synthetic import write_synthetic
    from ..errors import UserError

    try:
        path = write_synthetic(args.out, fmt=args.fmt, seed=args.seed, num_classes=args.classes,
                               dim=args.dim, train_videos=args.train_videos,
                               test_videos=args.test_videos, min_snippets=args.min_snippets,
                               max_snippets=args.max_snippets, domain=args.domain, mode=args.mode)
    except ValueError as exc:
        raise UserError(str(exc)) from exc
    print(f"wrote {args.train_videos} train + {args.test_videos} test synthetic videos "
          f"({args.classes} classes, 2 x {args.dim}-d, {args.mode} mode, {args.fmt}) to {path}")
    return 0
