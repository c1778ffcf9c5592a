"""`sdanet paths`: print where settings, caches, data and logs live."""

NAME = "paths"
HELP = "print the settings, cache, data and log directories"


def add_arguments(parser) -> None:
    parser.add_argument("--json", action="store_true", help="print as JSON")


def run(args) -> int:
    import json

    from ..paths import app_paths

    paths = app_paths()
    if args.json:
        print(json.dumps({**paths.as_dict(), "log_file": str(paths.log_file)}, indent=2))
    else:
        for key, value in paths.as_dict().items():
            print(f"{key:7s} {value}")
        print(f"{'logfile':7s} {paths.log_file}")
    return 0
