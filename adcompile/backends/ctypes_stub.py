"""Calling an LLVM-built kernel from Python through ctypes.

Self-contained on purpose (only ctypes and NumPy): `adcompile build` copies this file's source
into the `<name>.py` stub it writes next to the library, so the stub runs without adcompile.
The LLVM backend uses the same `bind` for `adcompile.jit(f, backend="llvm")`.

A kernel's `<symbol>__core(ctx, args..., outs...)` takes arrays as (data, n0, ...),
C-contiguous, and hands array results back as (data, shape) owned by `ctx`; `bind` copies
them into fresh NumPy arrays before freeing `ctx`.
"""
import ctypes
import numbers
import sys
import warnings

import numpy as np

# in a program that already uses adcompile the stub's errors are adcompile errors too; the stub
# itself never imports adcompile (it needs only NumPy)
_errors = sys.modules.get("adcompile.errors")
_Base = _errors.AdError if _errors is not None else Exception
# a check built to warn (on_failure="warn") that failed: the results come back with this warning
_Warning = _errors.ConvergenceWarning if _errors is not None else RuntimeWarning

_CTYPES = {"f64": ctypes.c_double, "f32": ctypes.c_float, "i64": ctypes.c_int64,
           "bool": ctypes.c_int8}
_NUMPY = {"f64": np.float64, "f32": np.float32, "i64": np.int64, "bool": np.bool_}
# the ADC_ERR_* codes of adcompile_runtime.h (a test compares them with adcompile's table)
ERROR_NAMES = {0: "OK", 1: "SHAPE", 2: "INDEX", 3: "ALLOC", 4: "VALUE", 5: "INTERNAL",
               6: "TAPE_BUDGET", 7: "UNBOUND", 8: "OVERFLOW", 9: "ZERO_DIVISION",
               10: "CONVERGENCE"}
_ERROR_HINTS = {
    "UNBOUND": "a variable of the model was read where no assignment to it had run (a loop "
               "that ran zero times, a branch not taken)",
    "ZERO_DIVISION": "the message names the line of the model that divided by zero",
    "CONVERGENCE": "an iterative linear solve of an implicit derivative missed its tolerance: "
                   "solve the inner problem more accurately or allow more iterations",
    "OVERFLOW": "a float converted to an integer was nan, infinite or outside the int64 range",
    "SHAPE": "compare the arrays' lengths with the function's documentation in the header",
    "INDEX": "the message names the line of the model that indexed out of range",
    "ALLOC": "the arrays (or reverse mode's tapes) need more memory than there is",
    "VALUE": "the message names the line of the model that failed",
    "INTERNAL": "a bug in adcompile's generated code: please report it",
    "TAPE_BUDGET": "rebuild with --checkpoint (e.g. binomial:50MB) or a larger "
                   "ADCOMPILE_TAPE_LIMIT"}


class StubError(_Base):
    """Base of the stub's errors: a message and a hint."""

    def __init__(self, message, hint=""):
        if _Base is Exception:
            Exception.__init__(self, message + ("\nhint: " + hint if hint else ""))
            self.message, self.hint = message, hint
        else:
            _Base.__init__(self, message, None, hint)


class ArgumentError(StubError, TypeError):
    """A Python value that cannot be passed as this C argument (checked before the call)."""


class KernelError(StubError, RuntimeError):
    """A kernel returned an error code: `code` is the ADC_ERR_* value, `name` its name."""

    def __init__(self, code, message):
        self.code = code
        self.name = "ADC_ERR_" + ERROR_NAMES.get(code, "UNKNOWN")
        hint = _ERROR_HINTS.get(ERROR_NAMES.get(code, ""), "")
        StubError.__init__(self, "%s: %s" % (self.name, message or "kernel failed"), hint)


def _default_error(code, message):
    return KernelError(code, message)


def _scalar(symbol, name, dt, x):
    """x as the C scalar of type dt, or an ArgumentError naming the argument: ctypes would
    raise its own error for a float given to an int64, and silently wrap a big int."""
    what = "%s: argument '%s' (%s)" % (symbol, name, dt)
    if isinstance(x, np.ndarray) and x.ndim == 0:
        x = x[()]
    if dt == "i64":
        if isinstance(x, (bool, np.bool_)) or not isinstance(x, numbers.Integral):
            raise ArgumentError("%s got %s %r" % (what, type(x).__name__, x),
                                "pass an int")
        if not -2**63 <= int(x) < 2**63:
            raise ArgumentError("%s: %d does not fit in 64 bits" % (what, int(x)),
                                "pass an int between -2**63 and 2**63 - 1")
        return int(x)
    if dt == "bool":
        if not isinstance(x, (bool, np.bool_)):
            raise ArgumentError("%s got %s %r" % (what, type(x).__name__, x),
                                "pass True or False")
        return int(bool(x))
    if isinstance(x, (bool, np.bool_)) or not isinstance(x, numbers.Real):
        raise ArgumentError("%s got %s %r" % (what, type(x).__name__, x), "pass a float")
    return float(x)


def _array(symbol, name, dt, nd, x):
    """x as a C-contiguous array of dtype dt, refusing conversions that would change values
    silently (floats into an int64 array, complex into floats)."""
    what = "%s: argument '%s' (%s array of %d dimension%s)" % (symbol, name, dt, nd,
                                                              "s" if nd > 1 else "")
    try:
        a = np.asarray(x)
    except Exception as e:
        raise ArgumentError("%s: %s" % (what, e), "pass a NumPy array") from None
    want = np.dtype(_NUMPY[dt])
    if a.dtype != want and not np.can_cast(a.dtype, want, "same_kind"):
        raise ArgumentError("%s got an array of dtype %s" % (what, a.dtype),
                            "convert it explicitly, e.g. x.astype(np.%s)" % want.name)
    if a.ndim != nd:
        raise ArgumentError("%s got a %d-d array" % (what, a.ndim),
                            "pass an array with %d dimension%s" % (nd, "s" if nd > 1 else ""))
    return np.ascontiguousarray(a, dtype=want)


def bind(lib, symbol, args, outs, returns_tuple, make_error=_default_error, names=None):
    """A Python function calling `symbol` in `lib`.

    `args`/`outs`: lists of (dtype name, ndim) per argument / result ("f64", 1 is f64[:]);
    `names`: the arguments' names, for error messages.
    """
    names = list(names) if names else ["#%d" % k for k in range(len(args))]
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
    lib.adc_ctx_warnings.argtypes = [ctypes.c_void_p]
    lib.adc_ctx_warnings.restype = ctypes.c_int64
    lib.adc_ctx_warning.argtypes = [ctypes.c_void_p]
    lib.adc_ctx_warning.restype = ctypes.c_char_p

    def call(*values):
        if len(values) != len(args):
            raise ArgumentError("%s takes %d arguments (%s), got %d"
                                % (symbol, len(args), ", ".join(names), len(values)),
                                "pass one value per argument, in order")
        cargs, keep = [], []
        for (dt, nd), x, name in zip(args, values, names):
            if nd:
                a = _array(symbol, name, dt, nd, x)
                keep.append(a)
                cargs += [a.ctypes.data] + list(a.shape)
            else:
                cargs.append(_scalar(symbol, name, dt, x))
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
            nwarn = lib.adc_ctx_warnings(ctx)
            if nwarn:
                text = lib.adc_ctx_warning(ctx).decode("utf-8", "replace")
                more = " (and %d more warnings in this call)" % (nwarn - 1) if nwarn > 1 else ""
                warnings.warn(text + more, _Warning, stacklevel=2)
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
