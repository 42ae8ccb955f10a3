"""Calling an LLVM-built kernel from Python through ctypes.

Self-contained on purpose (only ctypes and NumPy): `adcompile build` copies this file's source
into the `<name>.py` stub it writes next to the library, so the stub runs without adcompile.
The LLVM backend uses the same `bind` for `adcompile.jit(f, backend="llvm")`.

A kernel's `<symbol>__core(ctx, args..., outs...)` takes arrays as (data, n0, ...),
C-contiguous, and hands array results back as (data, shape) owned by `ctx`; `bind` copies
them into fresh NumPy arrays before freeing `ctx`.
"""
import ctypes

import numpy as np

_CTYPES = {"f64": ctypes.c_double, "f32": ctypes.c_float, "i64": ctypes.c_int64,
           "bool": ctypes.c_int8}
_NUMPY = {"f64": np.float64, "f32": np.float32, "i64": np.int64, "bool": np.bool_}


class KernelError(RuntimeError):
    """A kernel returned an error code; `code` is the ADC_ERR_* value."""

    def __init__(self, code, message):
        super().__init__(message or "kernel failed with code %d" % code)
        self.code = code


def _default_error(code, message):
    return KernelError(code, message)


def bind(lib, symbol, args, outs, returns_tuple, make_error=_default_error):
    """A Python function calling `symbol` in `lib`.

    `args`/`outs`: lists of (dtype name, ndim) per argument / result ("f64", 1 is f64[:]).
    """
    core = getattr(lib, symbol + "__core")
    argtypes = [ctypes.c_void_p]
    for dt, nd in args:
        argtypes += [ctypes.c_void_p] + [ctypes.c_int64] * nd if nd else [_CTYPES[dt]]
    for dt, nd in outs:
        argtypes += [ctypes.c_void_p, ctypes.c_void_p] if nd else [ctypes.c_void_p]
    core.argtypes = argtypes
    core.restype = ctypes.c_int32
    lib.adc_ctx_new.restype = ctypes.c_void_p
    lib.adc_ctx_free.argtypes = [ctypes.c_void_p]
    lib.adc_ctx_message.argtypes = [ctypes.c_void_p]
    lib.adc_ctx_message.restype = ctypes.c_char_p
    lib.adc_ctx_peak_bytes.argtypes = [ctypes.c_void_p]
    lib.adc_ctx_peak_bytes.restype = ctypes.c_int64

    def call(*values):
        if len(values) != len(args):
            raise TypeError("%s takes %d arguments, got %d" % (symbol, len(args), len(values)))
        cargs, keep = [], []
        for (dt, nd), x in zip(args, values):
            if nd:
                a = np.ascontiguousarray(x, dtype=_NUMPY[dt])
                if a.ndim != nd:
                    raise ValueError("%s: expected a %d-d array, got %d-d" % (symbol, nd, a.ndim))
                keep.append(a)
                cargs += [a.ctypes.data] + list(a.shape)
            else:
                cargs.append(x)
        slots = []
        for dt, nd in outs:
            if nd:
                data, shape = ctypes.c_void_p(), (ctypes.c_int64 * nd)()
                slots.append((dt, nd, data, shape))
                cargs += [ctypes.addressof(data), ctypes.addressof(shape)]
            else:
                cell = _CTYPES[dt]()
                slots.append((dt, 0, cell, None))
                cargs.append(ctypes.addressof(cell))
        ctx = lib.adc_ctx_new()
        if not ctx:
            raise MemoryError("adcompile runtime: out of memory")
        try:
            rc = core(ctx, *cargs)
            if rc != 0:
                raise make_error(rc, lib.adc_ctx_message(ctx).decode("utf-8", "replace"))
            results = [_fetch(*s) for s in slots]
            call.peak_bytes = lib.adc_ctx_peak_bytes(ctx)
        finally:
            lib.adc_ctx_free(ctx)
        if returns_tuple:
            return tuple(results)
        return results[0] if results else None

    call.__name__ = symbol
    call.peak_bytes = 0   # memory high-water mark of the last call (arrays + tapes), in bytes
    return call


def _fetch(dt, nd, cell, shape):
    if nd:
        out = np.empty(tuple(shape[j] for j in range(nd)), dtype=_NUMPY[dt])
        if out.nbytes:
            ctypes.memmove(out.ctypes.data, cell.value, out.nbytes)
        return out
    if dt == "bool":
        return bool(cell.value)
    if dt == "i64":
        return int(cell.value)
    return float(cell.value)
