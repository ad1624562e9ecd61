"""Qt + pyqtgraph dashboard (live) and replay; reads ``hipmon.buffers`` only.

- ``hipmon.app.dashboard.Dashboard``: the window (views, 30 Hz redraw).
- ``hipmon.app.session``: ``SessionRunner`` (source → LiveState, worker thread), ``make_source``.
- ``hipmon.app.feeds``: ``SimulatedFeed`` (truth angles as a live source, tests and fallback).
- ``hipmon.app.chain``: ``ChainSource`` (emulated/real sensors → ``hipmon.pipeline``).
- ``hipmon.app.replay``: ``ReplayModel`` + controls for ``hipmon replay``.
- ``hipmon.app.main``: ``run_live`` / ``run_replay`` used by the commands.

Importing this package does not import Qt; the submodules above (except
``session``/``feeds``) do.
"""
