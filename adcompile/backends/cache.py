"""Where compiled artifacts live on disk: `$ADCOMPILE_CACHE_DIR` or `~/.cache/adcompile`."""
from __future__ import annotations

import os
import tempfile
from pathlib import Path

from ..errors import AdError

_CHECKED: set[Path] = set()


def cache_dir(kind: str) -> Path:
    """The cache folder for one backend (`numba`, `llvm`), created on first use."""
    root = os.environ.get("ADCOMPILE_CACHE_DIR") or os.path.join(
        os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache"), "adcompile")
    path = Path(root) / kind
    if path in _CHECKED:
        return path
    what = "ADCOMPILE_CACHE_DIR" if os.environ.get("ADCOMPILE_CACHE_DIR") else "the cache folder"
    try:
        path.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=path):
            pass
    except OSError as e:
        raise AdError(f"{what} {root!r} cannot hold compiled code: {e.strerror or e}",
                      hint="set ADCOMPILE_CACHE_DIR to a writable folder (or unset it to use "
                      "~/.cache/adcompile)") from None
    _CHECKED.add(path)
    return path
