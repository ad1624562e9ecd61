"""Session reports and comparisons (``hipmon report``, ``hipmon compare``).

- ``model``: ``analyse_session(path) -> SessionAnalysis``, one session's analysis (the pipeline
  and ``hipmon analyze``'s summary, plus every event's values and event-normalised curves);
- ``stats``: a metric's change between two sessions, its 95 % CI and the smallest
  detectable change; the symmetry index;
- ``comparison``: baseline vs follow-up, a course of sessions, plain sentences;
- ``figures``: matplotlib (Agg) figures as PNG;
- ``render``: the self-contained HTML (jinja2 template ``templates/report.html.j2``) and the
  PDF (the same HTML printed by headless Chromium);
- ``progress``: an alias of ``hipmon.commands._progress`` (progress lines on stderr, every long command);
- ``protocol_section``: the protocol section of a report and the athlete trends report.

Formulas and decisions: docs/report.md.
"""

from .model import SessionAnalysis, analyse_session

__all__ = ["SessionAnalysis", "analyse_session"]
