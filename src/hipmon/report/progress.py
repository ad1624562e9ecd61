"""Moved to ``hipmon.commands._progress`` (shared by every long command); kept as an alias."""

from hipmon.commands._progress import Progress, add_progress_arguments

__all__ = ["Progress", "add_progress_arguments"]
