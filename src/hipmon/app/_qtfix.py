"""Work around a PySide6 6.12 reference-count bug on Python < 3.12.

Found while building the dashboard: with PySide6 6.12 on CPython 3.11 every
call of a void Qt method (``QPainter.setPen``, ``drawLine``, ``save``, ...)
*decrements* the reference count of ``None`` (they return ``Py_None`` without a
new reference, which is harmless only where ``None`` is immortal, CPython
≥ 3.12). pyqtgraph makes thousands of such calls per redraw, so after a few
seconds the count reaches zero and the interpreter aborts with
``Fatal Python error: none_dealloc: deallocating None`` (and, for methods
returning a bool, ``bool_dealloc`` at exit).

``None``/``True``/``False`` are never deallocated in a healthy interpreter, so we make them
effectively immortal, as CPython 3.12 does: add 2**40 to their counts once
(about 10 years of redraws at the observed rate). Applied only on CPython < 3.12
and only after measuring the drift, so it is a no-op where the bug is absent.
"""

from __future__ import annotations

import ctypes
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


def apply() -> bool:
    """Make ``None`` immortal if this interpreter + PySide6 leak its references; returns True if applied."""
    global _applied
    if _applied or sys.version_info >= (3, 12) or sys.implementation.name != "cpython":
        return _applied
    if none_refcount_drift() >= 0:
        return False
    for singleton in (None, True, False):  # bool-returning methods have the same bug
        ctypes.c_ssize_t.from_address(id(singleton)).value += 1 << 40
    _applied = True
    return True
