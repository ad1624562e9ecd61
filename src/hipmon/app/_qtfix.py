"""Guard against a PySide6 6.12 reference-count bug on Python < 3.12.

Found while building the dashboard: with PySide6 6.12 on CPython 3.11 every
call of a void Qt method (``QPainter.setPen``, ``drawLine``, ``save``, ...)
*decrements* the reference count of ``None`` (they return ``Py_None`` without a
new reference, which is harmless only where ``None`` is immortal, CPython
≥ 3.12). pyqtgraph makes thousands of such calls per redraw, so after a few
seconds the count reaches zero and the interpreter aborts with
``Fatal Python error: none_dealloc: deallocating None`` (and, for methods
returning a bool, ``bool_dealloc`` at exit).

hipmon pins ``PySide6-Essentials != 6.12.0`` (6.11.3, for one, is healthy);
``apply()`` measures the drift at start-up and refuses, with a clear message,
to run on a binding that has it, instead of aborting mid-session.
"""

from __future__ import annotations

import sys

_applied = False


def none_refcount_drift(n: int = 64) -> int:
    """Change of ``None``'s reference count over ``n`` calls of a void QPainter method (0 when healthy)."""
    from PySide6 import QtGui  # noqa: PLC0415

    img = QtGui.QImage(4, 4, QtGui.QImage.Format.Format_ARGB32)
    painter = QtGui.QPainter(img)
    try:
        before = sys.getrefcount(None)
        for _ in range(n):
            painter.save()
        after = sys.getrefcount(None)
        for _ in range(n):
            painter.restore()
    finally:
        painter.end()
    return after - before


class BrokenQtBindingError(RuntimeError):
    """The installed PySide6 corrupts reference counts; the dashboard would crash within seconds."""


def apply() -> bool:
    """Refuse to start on a PySide6 that leaks ``None`` references (returns False when healthy).

    hipmon pins ``PySide6-Essentials != 6.12.0`` so a normal install never meets
    the bug; a hand-installed 6.12.0 on CPython < 3.12 gets a clear error here
    instead of a ``none_dealloc`` abort mid-session.
    """
    global _applied
    if _applied or sys.version_info >= (3, 12) or sys.implementation.name != "cpython":
        return False
    _applied = True
    if none_refcount_drift() < 0:
        import PySide6  # noqa: PLC0415

        raise BrokenQtBindingError(
            f"PySide6 {PySide6.__version__} loses references to None on Python "
            f"{sys.version_info.major}.{sys.version_info.minor} and would crash the dashboard; "
            'install another version: pip install "PySide6-Essentials!=6.12.0"'
        )
    return False
