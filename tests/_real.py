"""The real recordings in ``../shared/data/real`` (beside the checkout), for tests.

They are validation data and are never copied into the project. A missing folder is a
test *failure*, not a skip: the real-data checks are what make hipmon's numbers honest.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

REAL = Path(__file__).resolve().parents[2] / "shared" / "data" / "real"


def real_dir(name: str) -> Path:
    """The folder of one real recording; AssertionError (a failure) when it is missing."""
    path = REAL / name
    assert path.is_dir(), f"real recording {name!r} missing: expected {path} (shared/ beside the checkout)"
    return path


def loader(name: str, module: str) -> ModuleType:
    """Import a recording's own loader (e.g. ``loader('neura-sparse-s02-walk', 'load_neura')``)."""
    folder = real_dir(name)
    key = f"_hipmon_real_{name.replace('-', '_')}_{module}"
    if key in sys.modules:
        return sys.modules[key]
    spec = importlib.util.spec_from_file_location(key, folder / f"{module}.py")
    assert spec is not None and spec.loader is not None, f"no loader {module}.py in {folder}"
    mod = importlib.util.module_from_spec(spec)
    sys.path.insert(0, str(folder))  # loaders import their siblings (oracle_floor imports load_neura)
    try:
        sys.modules[key] = mod
        spec.loader.exec_module(mod)
    finally:
        sys.path.remove(str(folder))
    return mod
