"""Qt + pyqtgraph dashboard (live) and replay; reads the declared model only.

- ``hipmon.app.model``: the seams (``Source``, ``DashboardModel``, ``Seekable`` protocols) and the
  judgements the panels display (alert bands, per-stride bars, the banner's alert); no Qt.
- ``hipmon.app.dashboard.Dashboard``: the window, a layout of ``hipmon.app.panels`` (40 Hz redraw).
- ``hipmon.app.session``: ``SessionRunner`` (source → LiveState, worker thread), ``make_source``.
- ``hipmon.app.feeds``: ``SimulatedFeed`` (given angles as a live source: tests, ``--source truth``).
- ``hipmon.app.chain``: ``ChainSource`` (emulated/real sensors → ``hipmon.pipeline``).
- ``hipmon.app.replay``: ``ReplayModel`` + ``ReplayBar`` for ``hipmon replay``.
- ``hipmon.app.main``: ``run_live`` / ``run_replay`` used by the commands.

Importing this package does not import Qt; ``model``, ``session`` and ``feeds`` do not either
(``chain`` imports the BLE stack only when a source starts).
"""
