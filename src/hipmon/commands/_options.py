"""The pipeline settings shared by the commands that process a session (one option group).

``add_pipeline_arguments(parser)`` adds the group "pipeline settings" (``--rate`` for
the common grid, ``--filter``, ``--mag``, ``--rules``); ``pipeline_config(args)`` turns them into a
``hipmon.pipeline.PipelineConfig`` and ``load_rules_option(args)`` checks the rules
file (a one-line ``CommandError`` naming the file, the line and the field).
``export``, ``analyze`` and ``replay`` use all of it; ``live`` takes it without ``--rate``
(``grid_rate=False``: there ``--rate`` is the emulated sensors' rate, and the grid follows
the sensors) and gives the configuration to its ``hipmon.app.chain.ChainSource``.
"""

from __future__ import annotations

import argparse
from typing import Any

#: orientation filters ``--filter`` accepts (``hipmon.fusion.make_filter``)
FILTERS: tuple[str, ...] = ("vqf", "madgwick", "mahony", "ekf")


def add_pipeline_arguments(parser: argparse.ArgumentParser, grid_rate: bool = True) -> argparse._ArgumentGroup:
    """Add the pipeline options (``--rate HZ``: the common grid rate, unless ``grid_rate`` is False;
    ``--filter``, ``--mag``, ``--rules``)."""
    g = parser.add_argument_group("pipeline settings")
    if grid_rate:
        g.add_argument("--rate", type=float, default=None, metavar="HZ",
                       help="common grid rate (default: sensor rate, at most 100 Hz)")
    g.add_argument("--filter", default="vqf", choices=FILTERS,
                   help="orientation filter (default vqf); madgwick, mahony and ekf run with hipmon's "
                        "rest gyro-bias estimate and accelerometer low-pass, within 1.5x vqf's error "
                        "(docs/fusion.md); with --mag only vqf (the others are refused: no "
                        "magnetic-disturbance rejection)")
    g.add_argument("--mag", action="store_true", help="magnetometer-aided heading (9D) where the sensors send it")
    g.add_argument("--rules", metavar="RULES.toml", default=None,
                   help="alert rules (default: the shipped rules); checked against the metric registry")
    return g


def load_rules_option(args: argparse.Namespace) -> Any:
    """The ``--rules`` file as ``hipmon.alerts.Rules``, or None for the shipped rules.

    A malformed file is a ``CommandError`` naming the file, the line and the field
    (``hipmon.alerts.RulesError``); an unreadable one names the file and the reason.
    """
    path = args.rules
    if not path:
        return None
    from hipmon.alerts import RulesError, load_rules
    from hipmon.cli import CommandError

    try:
        return load_rules(path)
    except RulesError as exc:
        raise CommandError(str(exc)) from None
    except OSError as exc:
        raise CommandError(f"{path}: cannot read ({exc.strerror or exc})") from None


def pipeline_config(args: argparse.Namespace, rules: Any = None, grid_rate: bool = True) -> Any:
    """``PipelineConfig`` from the options (``rules``: already loaded ``Rules``, else ``--rules`` is loaded;
    ``grid_rate`` False: the options have no grid ``--rate``)."""
    from hipmon.pipeline import PipelineConfig

    cfg = PipelineConfig(rate_hz=args.rate if grid_rate else None, filter=args.filter, use_mag=bool(args.mag))
    cfg.alert_rules = rules if rules is not None else load_rules_option(args)
    return cfg


def is_default(args: argparse.Namespace) -> bool:
    """True when no pipeline option differs from its default (the shipped configuration)."""
    return args.rate is None and args.filter == "vqf" and not args.mag and not args.rules
