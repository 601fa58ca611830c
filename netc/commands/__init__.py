"""One module per `netc` subcommand; each has `register(subparsers)` and `run(args) -> int`."""
