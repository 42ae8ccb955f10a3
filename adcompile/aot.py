"""Ahead-of-time builds: one function, several derivative programs, one C library.

`build_library` lowers the function for a fixed signature, derives each requested mode
(primal, jvp, vjp, grad), compiles them with the LLVM backend and writes into `out_dir`:

- `lib<name>.so`: the kernels and the C runtime, for `dlopen`/ctypes or linking;
- `<name>.o`: the same as one relocatable object (kernels + runtime), for static linking;
- `<name>.h`: one documented C prototype per program, plus `adcompile_runtime.h` beside it;
- `<name>.py`: a ctypes stub that needs only NumPy.

The C calling convention of every program (see docs/aot.md):
`int <name>_<mode>(inputs..., outputs...)` where a scalar input is passed by value, an array
input as `const T *x, int64_t x_n0, ...` (C-contiguous), a scalar output as `T *out`, an array
output as `T *out, int64_t out_n0, ...` (a caller-owned buffer whose lengths are checked).
It returns ADC_OK (0) or an ADC_ERR_* code, with the message in `adc_last_error()`.
"""
from __future__ import annotations

import ast
import inspect
import re
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from .backends.abi import C_TYPES as _C_TYPES
from .driver.compile import build_ir
from .driver.options import CompileOptions
from .driver.transforms import JVP, VJP
from .errors import AdError, InternalError, TypeInferenceError
from .ir.core import Function
from .ir.types import ArrayType, ScalarType, Type, parse_type, scalar_of
from .ir.walk import clone_function
from .signature import ArgSpec
from .targets import check_cpu, check_name, load_function, prepare_out_dir  # noqa: F401

MODES = ("primal", "jvp", "vjp", "grad")


@dataclass
class Program:
    """One C function of the library."""

    mode: str
    symbol: str
    fn: Function
    arg_names: list[str]
    out_names: list[str]
    doc: str
    ir_stages: dict = field(default_factory=dict)


# -- signatures ----------------------------------------------------------------------------------
def parse_signature(text: str, func: Callable) -> list[ArgSpec]:
    """`"f64[:], f64, i64"` -> one ArgSpec per parameter of func."""
    parts = _split_top(text)
    params = list(inspect.signature(func).parameters)
    if len(parts) != len(params):
        raise AdError(f"--signature gives {len(parts)} types but '{func.__name__}' takes "
                      f"{len(params)} arguments ({', '.join(params)})",
                      hint='one type per argument, e.g. --signature "f64[:], f64, i64"')
    return [_spec(p, name) for p, name in zip(parts, params)]


_SIG_HINT = 'one type per argument, e.g. --signature "f64[:], f64, i64"'


def _split_top(text: str) -> list[str]:
    """Split at the commas outside brackets; unbalanced brackets and empty entries are
    errors here (not a count mismatch later)."""
    out, depth, cur = [], 0, ""
    for ch in text:
        if ch == "[":
            depth += 1
        elif ch == "]":
            depth -= 1
            if depth < 0:
                raise AdError(f"--signature {text!r}: ']' without a matching '['",
                              hint=_SIG_HINT)
        if ch == "," and depth == 0:
            out.append(cur.strip())
            cur = ""
        else:
            cur += ch
    if depth:
        raise AdError(f"--signature {text!r}: '[' is never closed", hint=_SIG_HINT)
    out.append(cur.strip())
    if out == [""]:
        raise AdError("--signature is empty", hint=_SIG_HINT)
    for k, part in enumerate(out):
        if not part:
            raise AdError(f"--signature {text!r}: type {k + 1} is empty", hint=_SIG_HINT)
    return out


_ALIASES = {"float": "f64", "double": "f64", "float64": "f64", "float32": "f32", "int": "i64",
            "int64": "i64", "bool": "bool"}
_TYPE = re.compile(r"(\w+)\s*(?:\[\s*(:(?:\s*,\s*:)*)\s*\])?")


def _spec(text: str, name: str) -> ArgSpec:
    m = _TYPE.fullmatch(text.strip())
    base = _ALIASES.get(m.group(1), m.group(1)) if m else None
    if base not in ("f64", "f32", "i64", "bool"):
        raise AdError(f"argument '{name}': unknown type {text!r}",
                      hint="use f64, f32, i64 or bool, with [:] per array dimension "
                           "(e.g. f64[:, :])")
    ndim = 0 if m.group(2) is None else m.group(2).count(":")
    typ = parse_type(f"{base}[{', '.join(':' * ndim)}]" if ndim else base)
    if isinstance(typ, ArrayType) and not 1 <= typ.ndim <= 3:
        raise AdError(f"argument '{name}': arrays of 1 to 3 dimensions are supported",
                      hint="e.g. f64[:], f64[:, :] or f64[:, :, :]")
    weak = isinstance(typ, ScalarType) and typ.name != "f32"
    return ArgSpec(typ, weak)


def signature_from_annotations(func: Callable) -> list[ArgSpec]:
    sig = inspect.signature(func)
    out = []
    for name, p in sig.parameters.items():
        ann = p.annotation
        if ann is inspect.Parameter.empty:
            raise AdError(f"argument '{name}' of '{func.__name__}' has no type annotation",
                          hint='pass --signature "f64[:], f64, ..." or annotate it '
                               '(x: "f64[:]", k: float)')
        if isinstance(ann, type):
            ann = {float: "f64", int: "i64", bool: "bool"}.get(ann, ann.__name__)
        elif isinstance(ann, str) and ann[:1] in "'\"":
            # `from __future__ import annotations` keeps x: "f64[:]" as the text "'f64[:]'"
            try:
                ann = ast.literal_eval(ann)
            except (ValueError, SyntaxError):
                pass
        out.append(_spec(str(ann), name))
    return out


# -- programs ------------------------------------------------------------------------------------
def _argnums(argnums, specs: list[ArgSpec], func) -> tuple[bool, ...]:
    names = list(inspect.signature(func).parameters)
    floats = [i for i, s in enumerate(specs) if scalar_of(s.type).is_float]
    nums = floats if argnums is None else list(argnums)
    for i in nums:
        if not 0 <= i < len(specs):
            raise AdError(f"--argnums {i} is out of range for '{func.__name__}' with "
                          f"{len(specs)} arguments",
                          hint=f"argument positions count from 0 to {len(specs) - 1}")
        if not scalar_of(specs[i].type).is_float:
            raise AdError(f"argument '{names[i]}' ({specs[i].type}) is not a float, so it has "
                          "no derivative", hint="--argnums lists float arguments only")
    if not nums:
        raise AdError(f"'{func.__name__}' has no float argument to differentiate",
                      hint="--mode primal builds it without derivatives")
    return tuple(i in nums for i in range(len(specs)))


def _out_names(fn: Function, base: str = "out") -> list[str]:
    n = len(fn.result_types)
    return [base] if n == 1 else [f"{base}{i}" for i in range(n)]


def make_programs(func: Callable, specs: list[ArgSpec], modes: list[str], name: str,
                  argnums=None, checkpoint=None, options: CompileOptions | None = None
                  ) -> list[Program]:
    """`checkpoint`: a policy for the reverse modes (see adcompile.checkpointing); without
    one, loops check their tape estimate against the options' tape limit (from
    ADCOMPILE_TAPE_LIMIT) at run time. Each program's IR comes from the compile driver's
    cache, as for `adcompile.grad(..., backend="llvm")`."""
    options = (options or CompileOptions.from_env()).replace(backend="llvm")
    params = list(inspect.signature(func).parameters)
    if not modes:
        raise AdError("--mode names no program", hint=f"--mode takes {', '.join(MODES)}")
    for k, mode in enumerate(modes):
        if mode not in MODES:
            raise AdError(f"unknown mode {mode!r}", hint=f"--mode takes {', '.join(MODES)}")
        if mode in modes[:k]:
            raise AdError(f"--mode lists {mode!r} twice",
                          hint="each program is built once: e.g. --mode primal,grad")
    progs = []
    where = f"{inspect.getsourcefile(func)}:{inspect.getsourcelines(func)[1]}"
    sigtext = ", ".join(f"{p}: {s.type}" for p, s in zip(params, specs))
    for mode in modes:
        if mode not in MODES:
            raise AdError(f"unknown mode {mode!r}", hint=f"--mode takes {', '.join(MODES)}")
        if mode == "primal":
            st = build_ir(func, specs, None, options)
            fn = clone_function(st["backend"])
            outs = _out_names(fn)
            args = params
        else:
            active = _argnums(argnums, specs, func)
            if mode == "jvp":
                transform = JVP(active)
            else:
                transform = VJP(active, checkpoint=checkpoint, unit_cotangent=mode == "grad")
            prim = build_ir(func, specs, None, options)["primal"]
            if mode == "grad":
                t = prim.result_types
                if prim.returns_tuple or len(t) != 1 or isinstance(t[0], ArrayType) or \
                        not scalar_of(t[0]).is_float:
                    raise TypeInferenceError(
                        f"--mode grad needs '{func.__name__}' to return one float scalar",
                        prim.loc, "use --mode vjp for array or tuple outputs")
            st = build_ir(func, specs, transform, options)
            fn = clone_function(st["backend"])
            k = len(prim.result_types)
            pouts = _out_names(prim)
            if mode == "jvp":
                args = params + [f"{params[i]}_dot" for i, a in enumerate(active) if a]
                outs = pouts + [f"{o}_dot" for o, t in zip(pouts, prim.result_types)
                                if scalar_of(t).is_float]
                # forward mode returns a (zero) tangent for int and bool outputs too: the C
                # program has none
                _drop_results(fn, [k + i for i, t in enumerate(prim.result_types)
                                   if not scalar_of(t).is_float])
            else:
                cots = [f"{o}_bar" for o, t in zip(pouts, prim.result_types)
                        if scalar_of(t).is_float]
                args = params + cots
                outs = pouts + [f"{params[i]}_bar" for i, a in enumerate(active) if a]
                if mode == "grad":
                    args = params
                    outs = ["value"] + outs[k:]
        if len(fn.args) != len(args) or len(fn.result_types) != len(outs):
            raise InternalError(f"--mode {mode}: the program has {len(fn.args)} arguments "
                                f"and {len(fn.result_types)} results, the C signature "
                                f"{len(args)} and {len(outs)}", _primal_loc(func, specs, options))
        for a, n in zip(fn.args, args):
            a.name = n
        doc = f"{mode} of {func.__name__}({sigtext}) from {where}"
        progs.append(Program(mode, f"{name}_{mode}" if mode != "primal" else name, fn, args,
                             outs, doc, st))
    return progs


def _drop_results(fn: Function, indices: list[int]) -> None:
    """Remove results of fn (its return op's operands) at these positions."""
    if not indices:
        return
    ret = fn.body.ops[-1]
    keep = [k for k in range(len(fn.result_types)) if k not in indices]
    ret.operands = [ret.operands[k] for k in keep]
    fn.result_types = [fn.result_types[k] for k in keep]


def _primal_loc(func, specs, options):
    return build_ir(func, specs, None, options)["primal"].loc


# -- header --------------------------------------------------------------------------------------
def _c_params(fn: Function, names: list[str], outs: list[str]) -> list[str]:
    ps = []
    for a, n in zip(fn.args, names):
        t = a.type
        if isinstance(t, ArrayType):
            ps.append(f"const {_C_TYPES[t.dtype.name]} *{n}")
            ps += [f"int64_t {n}_n{j}" for j in range(t.ndim)]
        else:
            ps.append(f"{_C_TYPES[t.name]} {n}")
    for t, n in zip(fn.result_types, outs):
        if isinstance(t, ArrayType):
            ps.append(f"{_C_TYPES[t.dtype.name]} *{n}")
            ps += [f"int64_t {n}_n{j}" for j in range(t.ndim)]
        else:
            ps.append(f"{_C_TYPES[t.name]} *{n}")
    return ps


def _describe(t: Type) -> str:
    return f"{t.dtype}[{', '.join(':' * t.ndim)}] array" if isinstance(t, ArrayType) else str(t)


def header_text(name: str, progs: list[Program]) -> str:
    guard = re.sub(r"\W", "_", name).upper() + "_H"
    lines = [f"/* {name}.h: generated by adcompile; do not edit.",
             " *",
             " * Every function returns ADC_OK (0) or an ADC_ERR_* code; on failure",
             " * adc_last_error() gives the message (with the Python file:line that failed).",
             " * Arrays are C-contiguous; each array is followed by its lengths (x_n0, x_n1...).",
             " * Output arrays are caller-owned buffers whose lengths must match the result,",
             " * else ADC_ERR_SHAPE is returned and nothing is written. */",
             f"#ifndef {guard}", f"#define {guard}", "",
             "#include <stdbool.h>", "#include <stdint.h>", "",
             '#include "adcompile_runtime.h"', "",
             "#ifdef __cplusplus", 'extern "C" {', "#endif", ""]
    for p in progs:
        lines.append(f"/* {p.doc}")
        ins = ", ".join(f"{n} ({_describe(a.type)})" for a, n in zip(p.fn.args, p.arg_names))
        outs = ", ".join(f"{n} ({_describe(t)})" for t, n in zip(p.fn.result_types,
                                                                  p.out_names))
        lines.append(f" *   inputs:  {ins}")
        lines.append(f" *   outputs: {outs} */")
        params = _c_params(p.fn, p.arg_names, p.out_names)
        lines.append(f"int {p.symbol}({', '.join(params)});")
        lines.append("")
    lines += ["#ifdef __cplusplus", "}", "#endif", "", f"#endif /* {guard} */", ""]
    return "\n".join(lines)


# -- python stub ---------------------------------------------------------------------------------
def stub_text(name: str, progs: list[Program]) -> str:
    from .backends import ctypes_stub
    from .backends.abi import type_spec
    src = Path(ctypes_stub.__file__).read_text()
    lines = [f'"""ctypes bindings for lib{name}.so, generated by adcompile (needs only NumPy).',
             "", "Functions: " + ", ".join(p.symbol for p in progs) + '"""',
             "# --- the runtime calling code (a copy of adcompile/backends/ctypes_stub.py) ---",
             src.split('"""', 2)[2].lstrip(), "",
             "# --- this library ---", "import os as _os", "",
             f"_lib = ctypes.CDLL(_os.path.join(_os.path.dirname(_os.path.abspath(__file__)), "
             f"'lib{name}.so'))", ""]
    for p in progs:
        args = [type_spec(a.type) for a in p.fn.args]
        outs = [type_spec(t) for t in p.fn.result_types]
        lines.append(f"{p.symbol} = bind(_lib, {p.symbol!r}, {args!r}, {outs!r}, "
                     f"{p.fn.returns_tuple or len(outs) != 1!r}, names={p.arg_names!r})")
        lines.append(f"{p.symbol}.__doc__ = {(p.doc + ': (' + ', '.join(p.arg_names) + ') -> ' + ', '.join(p.out_names)).strip()!r}")
    return "\n".join(lines) + "\n"


# -- the build -----------------------------------------------------------------------------------
def build_library(func: Callable, specs: list[ArgSpec], modes: list[str], out_dir: Path,
                  name: str | None = None, argnums=None, boundscheck: bool = True,
                  cpu: str = "host", checkpoint=None) -> dict:
    from .backends import llvm_backend as lb
    name = name or func.__name__
    check_name(name)
    check_cpu(cpu)
    prepare_out_dir(out_dir)
    progs = make_programs(func, specs, modes, name, argnums, checkpoint)
    entries = [lb.Entry(p.fn, p.symbol, p.out_names) for p in progs]
    module = lb.build_module(entries, boundscheck)
    mod, tm = lb.optimize(module, cpu)
    try:
        return _write(out_dir, name, progs, module, mod, tm)
    except OSError as e:
        raise AdError(f"--out {out_dir}: writing the library failed ({e})",
                      hint="check the directory's permissions and free space") from None


def _write(out_dir: Path, name: str, progs: list[Program], module, mod, tm) -> dict:
    from .backends import llvm_backend as lb
    kernel_o = out_dir / f"{name}.kernels.o"
    kernel_o.write_bytes(tm.emit_object(mod))
    rt = lb.runtime_objects()
    obj = out_dir / f"{name}.o"
    lb.run_command(["ld", "-r", "-o", str(obj), str(kernel_o)] + [str(o) for o in rt])
    # runtime symbols weak: a program may link several generated objects, each carrying it
    lb.run_command(["objcopy", "--wildcard", "-W", "adc_*", str(obj)])
    kernel_o.unlink()
    lib = out_dir / f"lib{name}.so"
    lb.link_shared([obj], lib)
    header = out_dir / f"{name}.h"
    header.write_text(header_text(name, progs))
    shutil.copy(lb.runtime_dir() / "include" / "adcompile_runtime.h",
                out_dir / "adcompile_runtime.h")
    stub = out_dir / f"{name}.py"
    stub.write_text(stub_text(name, progs))
    (out_dir / f"{name}.ll").write_text(str(module))
    return {"so": lib, "o": obj, "h": header, "py": stub, "ll": out_dir / f"{name}.ll",
            "programs": progs}
