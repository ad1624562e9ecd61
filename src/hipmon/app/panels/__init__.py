"""The dashboard's panels: small Qt widgets, each reading the declared model (``hipmon.app.model``).

Every panel is built from a ``DashboardModel`` (plus, for some, the session's ``Coverage``)
and redrawn by ``refresh(frame)`` with the window's ``FrameView`` (session clock, alert
bands, the alerts new since the last frame). A panel displays; it neither computes angles
or metrics nor decides what is out of bounds: those come from the model and from
``hipmon.app.model``'s judgement functions (``metric_bars``, ``out_of_band``, ``link_level``,
``AlertTracker``).

- ``traces.TracesPanel``: scrolling angle traces with alert bands, stance bands, alert and marker lines.
- ``bars.StrideBarsPanel``: the per-event metrics of the last strides per side.
- ``alerts.AlertBanner`` / ``alerts.AlertLogPanel`` / ``alerts.Beeper``: the banner, the log, the audible cue.
- ``status.SensorPanel`` / ``status.CalibrationPanel``: per-sensor link and the calibration steps.
- ``controls.HeaderPanel`` / ``controls.ControlsPanel``: names, source and clock; record, marker, sound, cue.
- ``hipmon.app.figure.FrontalFigure``: the frontal-plane figure (seen from behind).
"""

from hipmon.app.panels.base import FrameView, Panel

__all__ = ["FrameView", "Panel"]
