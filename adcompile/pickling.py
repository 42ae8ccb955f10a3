"""Pickling compiled objects (`jit` and the derivative objects), for Dask, executors and MPI.

Why: numba dispatchers and ctypes handles do not pickle, and a user function defined in
`__main__` or a notebook cannot be imported on a worker. A compiled object therefore pickles
as a *recipe*: the factory that made it (`jit`, `grad`, ...), its keyword arguments, the
`CompileOptions`, and the user function, by reference when it is importable, otherwise as
its source text plus the globals it reads (modules by name, other values by value).

On the worker, the recipe rebuilds the object. Programs this process built on the LLVM
backend travel with it as artifact bytes (driver/shipping.py): the worker calls them without
the frontend, the passes or a compiler. Others go through the compile driver, whose disk
cache (shared `ADCOMPILE_CACHE_DIR`, or the worker's own after its first build) loads them.
"""
from __future__ import annotations

import builtins
import hashlib
import importlib
import inspect
import linecache
import pickle
import sys
import textwrap
import types
from dataclasses import dataclass, field
from typing import Any, Callable

from .errors import AdError


@dataclass
class FunctionSource:
    """A user function that the worker may not import: its source and the globals it reads."""

    name: str
    source: str
    modules: dict[str, str] = field(default_factory=dict)   # global name -> module name
    values: dict[str, Any] = field(default_factory=dict)    # global name -> pickled value
    defaults: tuple | None = None

    def load(self) -> Callable:
        digest = hashlib.sha256(self.source.encode()).hexdigest()[:16]
        filename = f"<adcompile-shipped {self.name} {digest}>"
        lines = self.source.splitlines(keepends=True)
        # mtime None: linecache.checkcache keeps the entry, so inspect.getsource finds it
        linecache.cache[filename] = (len(self.source), None, lines, filename)
        # a real module with a name fixed by the source: the disk cache finds the globals the
        # program read again, so a second worker process loads what the first one built
        modname = f"_adcompile_shipped_{digest}"
        module = sys.modules.get(modname)
        if module is not None and self.name in vars(module):   # unpickled before here
            return vars(module)[self.name]
        if module is None:
            module = sys.modules[modname] = types.ModuleType(modname)
        env = vars(module)
        env["__builtins__"] = builtins
        for name, mod in self.modules.items():
            env[name] = importlib.import_module(mod)
        env.update(self.values)
        exec(compile(self.source, filename, "exec"), env)
        func = env[self.name]
        func.__defaults__ = self.defaults
        return func


def _importable(func) -> bool:
    mod, qual = getattr(func, "__module__", None), getattr(func, "__qualname__", "")
    if not mod or mod == "__main__" or "<locals>" in qual or "<lambda>" in qual:
        return False
    try:
        obj = importlib.import_module(mod)
        for part in qual.split("."):
            obj = getattr(obj, part)
    except (ImportError, AttributeError):
        return False
    return obj is func


def _global_names(code: types.CodeType) -> set[str]:
    names = set(code.co_names)
    for const in code.co_consts:
        if isinstance(const, types.CodeType):
            names |= _global_names(const)
    return names


def ship_function(func: Callable):
    """`func` itself when a worker can import it, else its `FunctionSource`."""
    if (getattr(func, "__adcompile__", False)   # a derivative of a derivative: pickles itself
            or isinstance(func, (types.BuiltinFunctionType, type)) or _importable(func)):
        return func
    if getattr(func, "__closure__", None):
        raise AdError(f"cannot pickle the compiled '{func.__name__}': it is a closure "
                      "(it reads variables of an enclosing function)",
                      hint="define it at module level, passing the captured values as "
                           "arguments or module globals")
    try:
        source = textwrap.dedent(inspect.getsource(func))
    except (OSError, TypeError) as e:
        raise AdError(f"cannot pickle the compiled '{func.__name__}': its source cannot be "
                      f"read ({e})", hint="define it in a .py file or a notebook cell") from None
    shipped = FunctionSource(func.__name__, source, defaults=func.__defaults__)
    for name in sorted(_global_names(func.__code__)):
        if name not in func.__globals__:
            continue
        value = func.__globals__[name]
        if isinstance(value, types.ModuleType):
            shipped.modules[name] = value.__name__
        elif getattr(value, "__adcompile__", False) or isinstance(value, types.FunctionType):
            shipped.values[name] = value if _importable(value) else _Lazy(value)
        else:
            try:
                pickle.dumps(value)
            except Exception as e:   # noqa: BLE001 - any pickling failure: say which global
                raise AdError(f"cannot pickle the compiled '{func.__name__}': its global "
                              f"'{name}' does not pickle ({e})",
                              hint="make it a module-level constant of a picklable type, "
                                   "or pass it as an argument") from None
            shipped.values[name] = value
    return shipped


class _Lazy:
    """A called helper function (or compiled object) defined in `__main__`: shipped by source."""

    def __init__(self, value):
        self.value = value

    def __reduce__(self):
        if getattr(self.value, "__adcompile__", False):
            return (_identity, (self.value,))
        return (FunctionSource.load, (ship_function(self.value),))


def _identity(x):
    return x


def receive_function(shipped) -> Callable:
    return shipped.load() if isinstance(shipped, FunctionSource) else shipped


FACTORIES: dict[str, Callable] = {}
"""name -> factory (`jit`, `grad`, ...); filled by api.py and derivatives.py, which this
module does not import (they import it)."""


SHIPPING: dict[str, Callable] = {}
"""'export'(func, options) -> built programs, 'install'(func, options, programs): set by
api.py from driver/shipping.py (this module stays below the driver)."""


def register(name: str, factory: Callable) -> Callable:
    FACTORIES[name] = factory
    return factory


def rebuild(factory: str, shipped, kwargs: dict, programs: list = ()) -> Any:
    """Unpickle: the compiled object made again by its factory, on this process, with the
    programs built for it elsewhere installed."""
    func = receive_function(shipped)
    if isinstance(func, _Lazy):
        func = func.value
    obj = FACTORIES[factory](func, **kwargs)
    if programs and "install" in SHIPPING:
        SHIPPING["install"](obj.py_func, obj.options, programs)
    return obj


def reduce(obj, factory: str, kwargs: dict):
    """The `__reduce__` of a compiled object made by `factory(func, **kwargs)`."""
    export = SHIPPING.get("export")
    programs = export(obj.py_func, obj.options) if export is not None else []
    return (rebuild, (factory, ship_function(obj.py_func), kwargs, programs))
