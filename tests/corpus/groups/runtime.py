"""Runtime inputs: dtypes, 0-d/empty/strided/Fortran arrays, NaN and inf, wrong Python
types, out-of-range indices, on both backends; a misconfigured cache folder."""
# ruff: noqa
import os
import tempfile

import numpy as np

import adcompile as ad
from adcompile import AdError, TypeInferenceError
from tests.corpus.make import rejects, same_as_python


def total(x):  # ERR
    s = 0.0
    for i in range(x.shape[0]):
        s += x[i] * x[i]
    return s


def whole(x):  # ERR
    return np.sum(x * x) + 1.0


def scale(x):  # ERR
    return x * 2.0


def ident(x):  # ERR
    return x


def index0(x):  # ERR
    return x[()] * 2.0  # ERR


def rows(a):
    s = 0.0
    for i in range(a.shape[0]):
        for j in range(a.shape[1]):
            s += a[i, j] * (i + 1.0) + j
    return s


def at(x, i):  # ERR
    return x[i]


def top(x):
    return np.max(x)


def mean(x):
    return np.mean(x)


def for_cache(x):
    return x * 3.0 + 1.0


def for_cache_llvm(x):
    return x * 3.0 + 2.0


TOTAL = {b: ad.jit(total, backend=b) for b in ("numba", "llvm")}
WHOLE = {b: ad.jit(whole, backend=b) for b in ("numba", "llvm")}
SCALE = {b: ad.jit(scale, backend=b) for b in ("numba", "llvm")}
ROWS = {b: ad.jit(rows, backend=b) for b in ("numba", "llvm")}
AT = {b: ad.jit(at, backend=b) for b in ("numba", "llvm")}
TOP = {b: ad.jit(top, backend=b) for b in ("numba", "llvm")}
MEAN = {b: ad.jit(mean, backend=b) for b in ("numba", "llvm")}
GRAD_TOTAL = {b: ad.grad(total, backend=b) for b in ("numba", "llvm")}


def _misconfigured(value_of, f, backend):
    """Compile with ADCOMPILE_CACHE_DIR set to what `value_of(tmp)` returns."""
    def run():
        old = os.environ.get("ADCOMPILE_CACHE_DIR")
        with tempfile.TemporaryDirectory() as tmp:
            os.environ["ADCOMPILE_CACHE_DIR"] = value_of(tmp)
            try:
                return ad.jit(f, backend=backend)(1.0)
            finally:
                if old is None:
                    del os.environ["ADCOMPILE_CACHE_DIR"]
                else:
                    os.environ["ADCOMPILE_CACHE_DIR"] = old
    return run


def _a_file(tmp):
    path = os.path.join(tmp, "not_a_folder")
    open(path, "w").close()
    return path


def _under_a_file(tmp):
    return os.path.join(_a_file(tmp), "sub")


R = "runtime"
X = lambda: np.array([1.0, 2.0, 3.0, 4.0])
CASES = []
for b in ("numba", "llvm"):
    CASES += [
        same_as_python(f"int_array_{b}", TOTAL[b], total,
                       lambda: (np.array([1, 2, 3]),), R),
        same_as_python(f"bool_array_{b}", WHOLE[b], whole,
                       lambda: (np.array([True, False]),), R),
        same_as_python(f"float32_array_{b}", WHOLE[b], whole,
                       lambda: (np.ones(3, dtype=np.float32),), R),
        # int32/uint8 (index) arrays are read as int64 copies
        same_as_python(f"int32_array_{b}", TOTAL[b], total,
                       lambda: (np.arange(3, dtype=np.int32),), R),
        rejects(f"float16_array_{b}", lambda b=b: TOTAL[b](np.ones(3, dtype=np.float16)),
                TypeInferenceError, R),
        rejects(f"complex_scalar_{b}", lambda b=b: SCALE[b](1j), TypeInferenceError, R,
                "complex"),
        rejects(f"list_argument_{b}", lambda b=b: TOTAL[b]([1.0, 2.0]), TypeInferenceError, R),
        rejects(f"none_argument_{b}", lambda b=b: TOTAL[b](None), TypeInferenceError, R),
        rejects(f"wrong_arity_{b}", lambda b=b: TOTAL[b](X(), 1.0), TypeInferenceError, R),
        same_as_python(f"zero_d_array_{b}", SCALE[b], scale, lambda: (np.array(2.0),), R),
        same_as_python(f"zero_d_array_whole_{b}", WHOLE[b], whole, lambda: (np.array(2.0),), R),
        same_as_python(f"zero_d_array_returned_{b}", ad.jit(ident, backend=b), ident,
                       lambda: (np.array(2.0),), R),
        same_as_python(f"zero_d_array_indexed_{b}", ad.jit(index0, backend=b), index0,
                       lambda: (np.array(2.0),), R),
        same_as_python(f"zero_d_array_grad_{b}", ad.grad(whole, backend=b),
                       lambda x: np.asarray(2.0 * x), lambda: (np.array(2.0),), R),
        same_as_python(f"empty_array_{b}", TOTAL[b], total, lambda: (np.zeros(0),), R),
        same_as_python(f"empty_sum_{b}", WHOLE[b], whole, lambda: (np.zeros(0),), R),
        same_as_python(f"empty_max_{b}", TOP[b], top, lambda: (np.zeros(0),), R),
        same_as_python(f"empty_mean_{b}", MEAN[b], mean, lambda: (np.zeros(0),), R),
        same_as_python(f"jacrev_of_empty_{b}", ad.jacrev(scale, backend=b),
                       lambda x: np.zeros((0, 0)), lambda: (np.zeros(0),), R),
        same_as_python(f"jacfwd_of_empty_{b}", ad.jacfwd(scale, backend=b),
                       lambda x: np.zeros((0, 0)), lambda: (np.zeros(0),), R),
        same_as_python(f"hessian_of_empty_{b}", ad.hessian(whole, backend=b),
                       lambda x: np.zeros((0, 0)), lambda: (np.zeros(0),), R),
        same_as_python(f"strided_array_{b}", TOTAL[b], total, lambda: (np.arange(8.0)[::2],),
                       R),
        same_as_python(f"reversed_array_{b}", TOTAL[b], total,
                       lambda: (np.arange(4.0)[::-1],), R),
        same_as_python(f"fortran_array_{b}", ROWS[b], rows,
                       lambda: (np.asfortranarray(np.arange(6.0).reshape(2, 3)),), R),
        same_as_python(f"column_slice_{b}", ROWS[b], rows,
                       lambda: (np.arange(12.0).reshape(3, 4)[:, 1:3],), R),
        same_as_python(f"nan_input_{b}", TOTAL[b], total,
                       lambda: (np.array([1.0, np.nan]),), R),
        same_as_python(f"inf_input_{b}", WHOLE[b], whole,
                       lambda: (np.array([np.inf, -np.inf]),), R),
        same_as_python(f"nan_max_{b}", TOP[b], top, lambda: (np.array([1.0, np.nan, 2.0]),), R),
        same_as_python(f"grad_strided_{b}", GRAD_TOTAL[b], lambda x: 2.0 * x,
                       lambda: (np.arange(8.0)[::2],), R),
        same_as_python(f"grad_fortran_{b}", ad.grad(rows, backend=b),
                       lambda a: np.array([[1.0, 1.0, 1.0], [2.0, 2.0, 2.0]]),
                       lambda: (np.asfortranarray(np.arange(6.0).reshape(2, 3)),), R),
        same_as_python(f"index_out_of_range_{b}", AT[b], at, lambda: (X(), 7), R),
        same_as_python(f"negative_index_{b}", AT[b], at, lambda: (X(), -1), R),
        same_as_python(f"negative_index_out_of_range_{b}", AT[b], at, lambda: (X(), -5), R),
        same_as_python(f"huge_python_int_{b}", AT[b], at, lambda: (X(), 2 ** 70), R),
        rejects(f"cache_dir_is_a_file_{b}",
                _misconfigured(_a_file, for_cache if b == "numba" else for_cache_llvm, b),
                AdError, R, "ADCOMPILE_CACHE_DIR"),
        rejects(f"cache_dir_under_a_file_{b}",
                _misconfigured(_under_a_file, for_cache if b == "numba" else for_cache_llvm, b),
                AdError, R, "ADCOMPILE_CACHE_DIR"),
    ]
