"""One module per `sdanet` subcommand, discovered by `sdanet_gui.cli`.

Each module defines NAME, HELP, `add_arguments(parser)` and `run(args) -> int`. Importing a
command module must stay cheap (no torch, no decoder at module level): `sdanet --help` imports
all of them.
"""
