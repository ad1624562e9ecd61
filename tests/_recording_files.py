"""Test helper: a session file copied into another SQLite text encoding (the reader's hex path)."""

from __future__ import annotations

import sqlite3
from pathlib import Path


def copy_in_encoding(src: Path, dst: Path, encoding: str) -> Path:
    """``src``'s tables, rows and hipmon pragmas into a new file ``dst`` whose text encoding is
    ``encoding`` (e.g. "UTF-16le"); returns ``dst``."""
    old, new = sqlite3.connect(src), sqlite3.connect(dst)
    new.execute(f"PRAGMA encoding = '{encoding}'")
    for (sql,) in old.execute("SELECT sql FROM sqlite_master WHERE type='table'"):
        new.execute(sql)
    for (table,) in old.execute("SELECT name FROM sqlite_master WHERE type='table'"):
        rows = old.execute(f"SELECT * FROM {table}").fetchall()
        if rows:
            new.executemany(f"INSERT INTO {table} VALUES ({','.join('?' * len(rows[0]))})", rows)
    for pragma in ("application_id", "user_version"):
        new.execute(f"PRAGMA {pragma} = {old.execute(f'PRAGMA {pragma}').fetchone()[0]}")
    new.commit()
    new.close()
    old.close()
    return dst
