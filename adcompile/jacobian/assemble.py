"""Assembly: compiled derivative outputs -> Jacobians of the user's shapes."""
from __future__ import annotations

import numpy as np


def from_lanes(out, lanes, x) -> np.ndarray:
    """A vector-forward tangent (output shape + lanes) as d out / d x (out shape + x shape)."""
    return np.asarray(lanes).reshape(np.shape(out) + np.shape(x))


def from_rows(rows: list, out_shape: tuple[int, ...], x) -> np.ndarray:
    """Reverse passes, one per output entry in C order, stacked as out shape + x shape."""
    if not rows:   # an empty output: no passes ran, the Jacobian is empty
        return np.zeros(out_shape + np.shape(x), dtype=np.asarray(x).dtype if
                        isinstance(x, np.ndarray) else np.float64)
    return np.stack([np.asarray(r) for r in rows]).reshape(out_shape + np.shape(x))


def from_columns(cols: list, x) -> np.ndarray | float:
    """Forward passes, one per entry of x, as columns: x shape + x shape (a Hessian)."""
    if not cols:   # an empty argument: no passes ran, the Hessian is empty
        return np.zeros(np.shape(x) + np.shape(x), dtype=np.asarray(x).dtype)
    H = np.stack([np.asarray(c).reshape(-1) for c in cols], axis=1)
    return H.reshape(np.shape(x) + np.shape(x)) if isinstance(x, np.ndarray) else float(H[0, 0])


def split_lanes(d, widths: list[int]) -> list[np.ndarray]:
    """The trailing lane axis cut into consecutive blocks of `widths` (one per argument)."""
    blocks, off = [], 0
    for w in widths:
        blocks.append(d[..., off:off + w])
        off += w
    return blocks
