"""Tangents and cotangents the user passes (jvp, vjp pullbacks, hvp): checked against the
value they belong to, then converted to what the compiled derivative takes.

A direction of the wrong shape must not be broadcast or reshaped into a silently different
answer, and a complex or non-numeric one must not be cast: either is an `AdError` naming the
direction and both shapes (or dtypes).
"""
from __future__ import annotations

import numpy as np

from .errors import AdError


def _shape(shape: tuple) -> str:
    return "()" if shape == () else str(tuple(shape))


def direction(value, like, dtype, what: str, of: str):
    """`value` as a direction for `like` (the primal or output it belongs to), in `dtype`:
    an array shaped like `like`, or a scalar of `dtype` when `like` is a scalar.
    `what` names the direction ("the cotangent of output 0"), `of` the value ("the output")."""
    want = np.shape(like)
    try:
        arr = np.asarray(value)
    except Exception:   # noqa: BLE001 - ragged lists and the like
        arr = None
    if arr is None or arr.dtype.kind not in "biuf":
        got = "None" if value is None else (f"an array of dtype {arr.dtype}" if arr is not None
                                            and arr.dtype != object else type(value).__name__)
        raise AdError(f"{what} is {got}; {of} is a real {np.dtype(dtype).name} value of shape "
                      f"{_shape(want)}",
                      hint="pass a float (or float array) shaped like it" +
                      ("; complex numbers are not supported" if arr is not None and
                       arr.dtype.kind == "c" else ""))
    if arr.shape != want:
        raise AdError(f"{what} has shape {_shape(arr.shape)}, but {of} has shape "
                      f"{_shape(want)}",
                      hint="a tangent has its primal's shape, a cotangent its output's shape "
                      "(nothing is broadcast)")
    if isinstance(like, np.ndarray):
        return np.ascontiguousarray(arr, dtype=dtype)
    return float(arr) if np.dtype(dtype) == np.float64 else np.dtype(dtype).type(arr)
