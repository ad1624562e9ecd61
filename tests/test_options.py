"""Issue 12: one option group for the pipeline settings, shared by live, replay, analyze and export."""

from __future__ import annotations

import pytest

from hipmon.cli import build_parser


@pytest.mark.parametrize("command", ["live", "replay", "analyze", "export"])
def test_the_pipeline_options_are_one_group(command):
    parser = build_parser()
    argv = {"live": ["live", "--emulate", "walk"], "replay": ["replay", "s.hipmon"],
            "analyze": ["analyze", "s.hipmon"], "export": ["export", "s.hipmon"]}[command]
    args = parser.parse_args(argv + ["--filter", "madgwick", "--rules", "r.toml"])
    assert args.filter == "madgwick" and args.rules == "r.toml" and args.mag is False
    sub = parser._subparsers._group_actions[0].choices[command]
    groups = {g.title: {a.dest for a in g._group_actions} for g in sub._action_groups}
    assert {"filter", "mag", "rules"} <= groups["pipeline settings"]
    # live's --rate is the emulated sensors' rate: its grid follows the sensors
    assert ("rate" in groups["pipeline settings"]) == (command != "live")


def test_live_hands_its_pipeline_settings_to_the_source(monkeypatch):
    from hipmon.commands import live

    parser = build_parser()
    args = parser.parse_args(["live", "--emulate", "walk", "--no-gui", "--filter", "mahony", "--duration", "1"])
    seen = {}

    def fake_terminal(source, duration, **_):
        seen["config"] = source.pipeline_config
        return 0

    monkeypatch.setattr(live, "run_terminal", fake_terminal)
    assert live.run(args) == 0
    assert seen["config"].filter == "mahony" and seen["config"].rate_hz is None
