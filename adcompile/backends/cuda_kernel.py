"""CUDA backend, part 2: the batched launch around a per-instance program (the `.cu` file and
its `.cuh` header).

Launch parameters, in order (the header states them per kernel):
- `int64_t nbatch`;
- per argument: batched -> `const T *x` (instances stacked, C-contiguous) and, for an array,
  its per-instance lengths `x_n0, ...`; shared -> a scalar by value, an array as `const T *x`
  and its lengths;
- per result: stacked -> `T *out` (nbatch rows) and, for an array, the per-instance lengths
  the caller allocated (checked against each instance's result: ADC_ERR_SHAPE); summed (the
  adjoint of a shared argument) -> `T *out` holding the sum, zeroed by the caller, the shared
  argument's shape;
- `char *scratch, int64_t scratch_per_thread, adc_error *err`: one slice of scratch per
  launched thread (grid * block slices; the host entries use one), and the first failure.
"""
from __future__ import annotations

from dataclasses import dataclass

from ..ir.core import Function
from ..ir.types import ArrayType, scalar_of
from .abi import ErrorCode
from .cuda_codegen import C_SCALAR, CudaCodegen, Messages, ctype


@dataclass(frozen=True)
class KernelLayout:
    """`batched[i]`: argument i has a leading batch axis; `reduce[k]`: result k is summed over
    the batch into the shape of shared argument `reduce[k]` (None: stacked)."""

    batched: tuple[bool, ...]
    reduce: tuple[int | None, ...]

    @classmethod
    def all_batched(cls, fn: Function) -> "KernelLayout":
        return cls((True,) * len(fn.args), (None,) * len(fn.result_types))


@dataclass(frozen=True)
class CudaSource:
    name: str
    cu: str
    cuh: str
    messages: tuple[str, ...]
    params: tuple[tuple[str, str], ...]   # (C type, name) of the launch parameters


def _c_ident(text: str) -> str:
    out = "".join(c if c.isalnum() or c == "_" else "_" for c in text)
    return out if out and not out[0].isdigit() else "f_" + out


def _params(fn: Function, layout: KernelLayout) -> tuple[list[tuple[str, str, str]], list]:
    """[(C type, name, doc)] of the launch parameters, and per argument how the instance
    reads it."""
    ps = [("int64_t", "nbatch", "number of instances")]
    reads = []
    for k, (a, bat) in enumerate(zip(fn.args, layout.batched)):
        nm = f"a{k}_{_c_ident(a.name)}"
        t = a.type
        if isinstance(t, ArrayType):
            ps.append((f"const {C_SCALAR[t.dtype.name]} *", nm,
                       f"argument '{a.name}': {t}" + (" per instance, nbatch of them stacked"
                                                       if bat else ", shared")))
            dims = [f"{nm}_n{j}" for j in range(t.ndim)]
            ps += [("int64_t", d, f"length {j} of '{a.name}'" + (" (per instance)" if bat
                                                                   else ""))
                   for j, d in enumerate(dims)]
        elif bat:
            ps.append((f"const {C_SCALAR[t.name]} *", nm,
                       f"argument '{a.name}': {t}, one per instance"))
            dims = []
        else:
            ps.append((C_SCALAR[t.name], nm, f"argument '{a.name}': {t}, shared"))
            dims = []
        reads.append((nm, dims))
    for k, t in enumerate(fn.result_types):
        nm = f"out{k}"
        red = layout.reduce[k]
        if red is not None:
            ps.append((f"{C_SCALAR[scalar_of(t).name]} *", nm,
                       f"result {k}: {t}, the adjoint of shared argument "
                       f"'{fn.args[red].name}' summed over the batch (zero it before the "
                       "launch)"))
        else:
            ps.append((f"{C_SCALAR[scalar_of(t).name]} *", nm,
                       f"result {k}: {t} per instance, nbatch of them stacked"))
            if isinstance(t, ArrayType):
                ps += [("int64_t", f"{nm}_n{j}", f"length {j} of result {k} per instance")
                       for j in range(t.ndim)]
    ps += [("char *", "scratch", "scratch memory: scratch_per_thread bytes per launched "
                                 "thread (the host entries: one slice)"),
           ("int64_t", "scratch_per_thread", "bytes of scratch per thread (16-aligned)"),
           ("adc_error *", "err", "the launch's first failure (zero it before the launch)")]
    return ps, reads


def generate(fn: Function, name: str, layout: KernelLayout | None = None) -> CudaSource:
    """The .cu and .cuh of `fn` (lowered IR of one instance) batched as `layout` says."""
    layout = layout or KernelLayout.all_batched(fn)
    name = _c_ident(name)
    table = Messages()
    body = CudaCodegen(fn, table).generate(name)
    ps, reads = _params(fn, layout)
    plist = ", ".join(f"{t} {n}" if not t.endswith("*") else f"{t}{n}" for t, n, _ in ps)
    names = ", ".join(n for _, n, _ in ps)
    inst = [f"__host__ __device__ static void {name}_instance(int64_t i, int64_t slot, "
            f"{plist}, int64_t *shapes) {{",
            "    adc_thread th = {scratch + slot * scratch_per_thread, 0, scratch_per_thread, "
            "-1};"]
    call = []
    for a, bat, (nm, dims) in zip(fn.args, layout.batched, reads):
        t = a.type
        if isinstance(t, ArrayType):
            v = f"v_{nm}"
            T = C_SCALAR[t.dtype.name]
            inst.append(f"    {ctype(t)} {v};")
            row = " * ".join(dims) if dims else "1"
            inst.append(f"    {v}.data = ({T} *){nm}" + (f" + i * ({row});" if bat else ";"))
            inst += [f"    {v}.n[{j}] = {d};" for j, d in enumerate(dims)]
            call.append(v)
        elif bat:
            call.append(f"{nm}[i]")
        else:
            call.append(nm)
    for k, t in enumerate(fn.result_types):
        inst.append(f"    {ctype(t)} r{k};")
        call.append(f"&r{k}")
    inst.append(f"    int rc = {name}(&th, {', '.join(call)});")
    inst.append("    if (rc) { adc_report(err, rc, th.where, (long long)i); return; }")
    k_shape = 0
    shape_lines = []
    for k, t in enumerate(fn.result_types):
        if isinstance(t, ArrayType):
            shape_lines += [f"        shapes[{k_shape + j}] = r{k}.n[{j}];" for j in range(t.ndim)]
            k_shape += t.ndim
    inst.append("    if (shapes) {")
    inst += shape_lines
    inst.append("        return;")
    inst.append("    }")
    for k, t in enumerate(fn.result_types):
        red = layout.reduce[k]
        if not isinstance(t, ArrayType):
            inst.append(f"    adc_atomic_add(out{k}, r{k});" if red is not None
                        else f"    out{k}[i] = r{k};")
            continue
        want = ([f"{reads[red][0]}_n{j}" for j in range(t.ndim)] if red is not None
                else [f"out{k}_n{j}" for j in range(t.ndim)])
        bad = " || ".join(f"r{k}.n[{j}] != {w}" for j, w in enumerate(want))
        msg = table.index(f"{name}: result {k} of an instance does not have the lengths "
                          "given for it at the launch")
        inst.append(f"    if ({bad}) {{ adc_report(err, {int(ErrorCode.SHAPE)}, {msg}, "
                    "(long long)i); return; }")
        size = " * ".join(want)
        if red is not None:
            inst.append(f"    for (int64_t e = 0; e < {size}; e++) "
                        f"adc_atomic_add(&out{k}[e], r{k}.data[e]);")
        else:
            inst.append(f"    for (int64_t e = 0; e < {size}; e++) "
                        f"out{k}[i * ({size}) + e] = r{k}.data[e];")
    inst.append("}")
    msgs = ",\n".join("    " + _c_string(m) for m in table.texts) or '    ""'
    cu = "\n".join([
        f"// Generated by adcompile from {_where(fn)} ({fn.name}). Do not edit.",
        f"// Launch: see {name}.cuh. Device runtime: kernels/adcompile_device.cuh.",
        "#include \"adcompile_device.cuh\"",
        "",
        body,
        "\n".join(inst),
        "",
        "#if defined(__CUDACC__) && !defined(ADC_HOST_ONLY)",
        f"extern \"C\" __global__ void {name}_kernel({plist}) {{",
        "    int64_t slot = (int64_t)blockIdx.x * blockDim.x + threadIdx.x;",
        "    int64_t stride = (int64_t)gridDim.x * blockDim.x;",
        f"    for (int64_t i = slot; i < nbatch; i += stride) {name}_instance(i, slot, "
        f"{names}, 0);",
        "}",
        "#endif",
        "",
        "#ifndef __CUDA_ARCH__",
        f"static const char *const {name}_messages[] = {{",
        msgs,
        "};",
        "",
        f"extern \"C\" int {name}_host({plist}) {{",
        f"    for (int64_t i = 0; i < nbatch && err->code == 0; i++) {name}_instance(i, 0, "
        f"{names}, 0);",
        "    return err->code;",
        "}",
        "",
        f"extern \"C\" int {name}_host_shapes({plist}, int64_t *shapes) {{",
        f"    {name}_instance(0, 0, {names}, shapes);",
        "    return err->code;",
        "}",
        "",
        f"extern \"C\" const char *{name}_message(int where) {{",
        f"    return where >= 0 && where < {max(len(table.texts), 1)} ? {name}_messages[where] "
        ": \"\";",
        "}",
        "#endif",
        ""])
    return CudaSource(name, cu, _header(fn, name, ps, layout), tuple(table.texts),
                      tuple((t, n) for t, n, _ in ps))


def _where(fn: Function) -> str:
    return f"{fn.loc.filename}:{fn.loc.line}" if fn.loc else "?"


def _c_string(text: str) -> str:
    esc = text.replace("\\", "\\\\").replace("\"", "\\\"").replace("\n", "\\n")
    return f"\"{esc}\""


def _header(fn: Function, name: str, ps, layout: KernelLayout) -> str:
    guard = f"ADCOMPILE_{name.upper()}_CUH"
    doc = "\n".join(f" *   {t + ('' if t.endswith('*') else ' ')}{n}: {d}" for t, n, d in ps)
    plist = ",\n    ".join(f"{t} {n}" if not t.endswith("*") else f"{t}{n}" for t, n, _ in ps)
    return f"""/*
 * {name}.cuh -- generated by adcompile from {_where(fn)} ({fn.name}). Do not edit.
 *
 * One thread per instance (a grid-stride loop: any grid covers the batch). Parameters:
{doc}
 *
 * Launch:
 *   adc_error *err;            // cudaMalloc + cudaMemset 0; read it back after the launch
 *   char *scratch;             // blocks * threads * scratch_per_thread bytes
 *   {name}_kernel<<<blocks, threads>>>(nbatch, ..., scratch, scratch_per_thread, err);
 * err->code is ADC_OK (0) or an ADC_ERR_* code; err->instance the failing instance and
 * {name}_message(err->where) (a host function) the line of the model that failed.
 * ADC_ERR_ALLOC: an instance needed more than scratch_per_thread bytes (arrays, tapes of
 * runtime-length loops): launch again with more. Results summed over the batch are added
 * with atomics (their order, so their last bits, vary between launches).
 *
 * Host entries (the same code on the CPU, one instance after another; link {name}.cu built
 * by nvcc or any C++11 compiler): {name}_host(...) with the same parameters, and
 * {name}_host_shapes(..., int64_t *shapes): instance 0's result lengths.
 */
#ifndef {guard}
#define {guard}
#include "adcompile_device.cuh"

#ifdef __CUDACC__
extern "C" __global__ void {name}_kernel(
    {plist});
#endif

extern "C" int {name}_host(
    {plist});
extern "C" int {name}_host_shapes(
    {plist},
    int64_t *shapes);
extern "C" const char *{name}_message(int where);

#endif
"""
