"""`sdanet`: the headless tool. Thin: parse, call the engine, report.

Subcommands are the modules of `sdanet_gui.commands`. A `UserError` becomes one line on stderr
and exit code 1; any other exception is logged with its traceback, summarized on one line, and
exits 1 (`--verbose` prints the traceback too). Usage errors exit 2 with one line.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import pkgutil
import sys

from . import __version__
from .errors import UserError

log = logging.getLogger(__name__)


class OneLineParser(argparse.ArgumentParser):
    """argparse, but a usage error is one line naming the problem (and the help to read)."""

    def error(self, message: str):
        self.exit(2, f"{self.prog}: error: {message} (see '{self.prog} --help')\n")


def _command_modules():
    from . import commands

    for info in sorted(pkgutil.iter_modules(commands.__path__), key=lambda m: m.name):
        if not info.name.startswith("_"):
            yield importlib.import_module(f"{commands.__name__}.{info.name}")


def build_parser() -> argparse.ArgumentParser:
    parser = OneLineParser(prog="sdanet", description="SDANet engine: train, predict, evaluate, "
                           "extract features, fine-tune and exchange annotations, headless.")
    parser.add_argument("--version", action="version", version=f"sdanet {__version__}")
    parser.add_argument("-v", "--verbose", action="store_true", help="log details and tracebacks to stderr")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=OneLineParser)
    sub.required = True
    for module in _command_modules():
        p = sub.add_parser(module.NAME, help=module.HELP, description=module.HELP)
        p.add_argument("-v", "--verbose", action="store_true", default=argparse.SUPPRESS,
                       help="log details and tracebacks to stderr")
        module.add_arguments(p)
        p.set_defaults(_run=module.run)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    verbose = bool(getattr(args, "verbose", False))
    from .logs import setup_logging

    setup_logging(verbose)
    try:
        return int(args._run(args) or 0)
    except UserError as exc:
        log.debug("user error", exc_info=True)
        print(f"sdanet {args.command}: error: {exc}", file=sys.stderr)
        if verbose:
            import traceback

            traceback.print_exc()
        return 1
    except KeyboardInterrupt:
        print(f"sdanet {args.command}: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # `sdanet eval ... | head`: the reader left, which is not an error
        import os

        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    except Exception as exc:  # a bug: keep the traceback in the log, give the user one line
        log.exception("internal error in %s", args.command)
        from .paths import app_paths

        print(f"sdanet {args.command}: internal error: {type(exc).__name__}: {exc} "
              f"(details in {app_paths().log_file})", file=sys.stderr)
        if verbose:
            import traceback

            traceback.print_exc()
        return 1


if __name__ == "__main__":
    sys.exit(main())
