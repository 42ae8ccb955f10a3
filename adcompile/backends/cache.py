"""Where compiled artifacts live on disk: `$ADCOMPILE_CACHE_DIR` or `~/.cache/adcompile`."""
from __future__ import annotations

import os
from pathlib import Path


def cache_dir(kind: str) -> Path:
    """The cache folder for one backend (`numba`, `llvm`), created on first use."""
    root = os.environ.get("ADCOMPILE_CACHE_DIR") or os.path.join(
        os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache"), "adcompile")
    path = Path(root) / kind
    path.mkdir(parents=True, exist_ok=True)
    return path
