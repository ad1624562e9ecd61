"""Colours and fonts shared by the dashboard views (one place, so tests can look for them in screenshots)."""

from __future__ import annotations

BACKGROUND = "#ffffff"
FOREGROUND = "#222222"
GRID_ALPHA = 0.25

#: Side colours (left = blue, right = orange) and the pelvis (dark violet). Red is kept for alerts only.
LEFT = "#1f6fd1"
RIGHT = "#f08a1c"
PELVIS = "#5b2a86"
SIDE_COLOR = {"left": LEFT, "right": RIGHT}

ALERT = "#d62728"
ALERT_BAND = (214, 39, 40, 45)  # translucent red beyond the limits
STANCE_ALPHA = 30  # stance bands behind the traces: the side colour at this opacity (0..255) on the background
OK = "#2ca02c"
WARN = "#e0a800"
MUTED = "#9a9a9a"
NEUTRAL_GHOST = "#c8c8c8"

BANNER_IDLE = "background:#eef3ee; color:#2d5f2d; border-radius:6px; padding:6px;"
BANNER_UNSURE = "background:#f3f1e6; color:#6b5a1e; border-radius:6px; padding:6px;"
BANNER_ALERT = "background:#d62728; color:white; border-radius:6px; padding:6px;"


def rgb(hex_colour: str) -> tuple[int, int, int]:
    h = hex_colour.lstrip("#")
    return int(h[0:2], 16), int(h[2:4], 16), int(h[4:6], 16)


def tint(hex_colour: str, alpha: int, background: str = BACKGROUND) -> str:
    """``hex_colour`` at opacity ``alpha`` (0..255) over ``background``, as an opaque colour (cheaper to fill)."""
    a = alpha / 255.0
    c, b = rgb(hex_colour), rgb(background)
    return "#%02x%02x%02x" % tuple(round(b[i] + a * (c[i] - b[i])) for i in range(3))
