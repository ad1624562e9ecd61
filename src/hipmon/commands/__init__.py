"""One module per ``hipmon`` subcommand (see hipmon.cli)."""
