"""`sdanet-gui`: the review window. Parses arguments, then hands over to `ui`.

Start-up must stay light: the window has to be visible within 1.5 s, so torch and decord are
imported only when a video, a checkpoint or features are first needed.
"""

from __future__ import annotations

import argparse
import sys

from . import __version__


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="sdanet-gui",
        description="SDANet Review: play videos with SDANet's action scores and segments in step, "
                    "correct them, export them, fine-tune the model on your corrections.")
    parser.add_argument("paths", nargs="*", metavar="PATH",
                        help="videos, folders, feature or annotation files, or a project folder "
                             "to open, as if dropped on the window")
    parser.add_argument("--version", action="version", version=f"sdanet-gui {__version__}")
    parser.add_argument("-v", "--verbose", action="store_true", help="log details to stderr")
    parser.add_argument("--demo", action="store_true",
                        help="open a ready review of the bundled demo videos")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    from .logs import setup_logging

    setup_logging(args.verbose)
    from .ui.shell.application import run_app

    return run_app(args)


if __name__ == "__main__":
    sys.exit(main())
