"""The installed Qt binding must not corrupt reference counts (PySide6 6.12.0 on CPython 3.11 does)."""

import sys

import pytest

from hipmon.app import _qtfix


def test_void_qt_calls_do_not_lose_references_to_none():
    # 4000 void calls: the broken binding loses ~4000 references, a healthy one none
    assert _qtfix.none_refcount_drift(4000) >= 0


@pytest.mark.skipif(sys.version_info >= (3, 12), reason="None is immortal on CPython >= 3.12: the bug cannot bite")
def test_guard_accepts_the_installed_binding():
    assert _qtfix.apply() is False
