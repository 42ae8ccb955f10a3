"""IR types: scalars (f64, f32, i64, bool) and arrays of a scalar dtype and a rank.

Types are frozen and hashable; their printed form (`f64`, `f32[:, :]`) is also what the
IR parser reads back.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class ScalarType:
    name: str  # 'f64', 'f32', 'i64', 'bool'

    def __str__(self) -> str:
        return self.name

    @property
    def is_float(self) -> bool:
        return self.name in ("f64", "f32")

    @property
    def is_int(self) -> bool:
        return self.name == "i64"

    @property
    def is_bool(self) -> bool:
        return self.name == "bool"

    @property
    def np_dtype(self) -> np.dtype:
        return np.dtype(_NP_NAMES[self.name])

    @property
    def np_name(self) -> str:
        """The `np.<name>` spelling used in generated source."""
        return _NP_NAMES[self.name]


@dataclass(frozen=True)
class ArrayType:
    dtype: ScalarType
    ndim: int

    def __str__(self) -> str:
        return f"{self.dtype}[{', '.join(':' * self.ndim)}]"


@dataclass(frozen=True)
class TapeType:
    """A LIFO stack of values, written by reverse mode's forward sweep and read backwards."""

    elem: "ScalarType | ArrayType"

    def __str__(self) -> str:
        return f"tape<{self.elem}>"


Type = ScalarType | ArrayType | TapeType

F64 = ScalarType("f64")
F32 = ScalarType("f32")
I64 = ScalarType("i64")
BOOL = ScalarType("bool")
SCALARS = {t.name: t for t in (F64, F32, I64, BOOL)}

_NP_NAMES = {"f64": "float64", "f32": "float32", "i64": "int64", "bool": "bool_"}
_FROM_NP = {np.dtype("float64"): F64, np.dtype("float32"): F32, np.dtype("int64"): I64,
            np.dtype("bool"): BOOL}

# Promotion order for values of "strong" types (NumPy's rules for the dtypes we support).
_RANK = {"bool": 0, "i64": 1, "f32": 2, "f64": 3}


def scalar_of(t: Type) -> ScalarType:
    return t.dtype if isinstance(t, ArrayType) else t


def with_dtype(t: Type, dtype: ScalarType) -> Type:
    return ArrayType(dtype, t.ndim) if isinstance(t, ArrayType) else dtype


def ndim_of(t: Type) -> int:
    return t.ndim if isinstance(t, ArrayType) else 0


def from_numpy_dtype(dt: np.dtype) -> ScalarType | None:
    return _FROM_NP.get(np.dtype(dt))


def promote(a: ScalarType, b: ScalarType) -> ScalarType:
    """Result dtype of a binary arithmetic op on two strongly typed operands.

    i64 with f32 gives f64 (as NumPy does: f32 cannot hold every int64).
    """
    if a == b:
        return a
    if {a.name, b.name} == {"i64", "f32"}:
        return F64
    return a if _RANK[a.name] >= _RANK[b.name] else b


def parse_type(text: str) -> Type:
    text = text.strip()
    if text.startswith("tape<"):
        return TapeType(parse_type(text[5:-1]))
    if "[" in text:
        base, rest = text.split("[", 1)
        inner = rest.rstrip("]").strip()
        ndim = 0 if not inner else len(inner.split(","))
        return ArrayType(SCALARS[base.strip()], ndim)
    return SCALARS[text]
