"""`check_grad`: the first thing to run on a new function.

Three independent checks of the compiled derivatives at the given point:
1. central finite differences against forward mode (`jvp`) along random directions, and
   against reverse mode (`vjp`) for every input component when the input is small;
2. the dot-product test <J v, w> == <v, J^T w> between forward and reverse mode;
3. a Taylor-remainder test: |f(x + h v) - f(x) - h J v| must shrink like h^2; the observed
   order is reported (about 2 means the derivative is right, about 1 means it is wrong).
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from .derivatives import jvp, unwrap, vjp
from .errors import NonDifferentiable
from .ir.types import scalar_of
from .signature import signature_of


@dataclass
class GradCheckReport:
    function: str
    argnums: tuple[int, ...]
    fd_max_rel_error: float = 0.0
    vjp_fd_max_rel_error: float | None = None
    dot_product_rel_error: float = 0.0
    taylor_h: list[float] = field(default_factory=list)
    taylor_remainder: list[float] = field(default_factory=list)
    taylor_order: float = float("nan")
    rtol: float = 1e-5
    # forward and reverse mode agree to rounding: float64 to 1e-8, float32 (eps 1.2e-7) to
    # about 100 eps
    dot_tol: float = 1e-8

    @property
    def passed(self) -> bool:
        ok = self.fd_max_rel_error <= self.rtol and self.dot_product_rel_error <= self.dot_tol
        if self.vjp_fd_max_rel_error is not None:
            ok = ok and self.vjp_fd_max_rel_error <= self.rtol
        exact = all(r <= 1e-12 for r in self.taylor_remainder)  # linear/constant functions
        return ok and (exact or self.taylor_order > 1.8)

    def __bool__(self) -> bool:
        return self.passed

    def __str__(self) -> str:
        lines = [f"check_grad({self.function}, argnums={self.argnums}): "
                 f"{'PASSED' if self.passed else 'FAILED'}",
                 f"  jvp vs finite differences: max rel error {self.fd_max_rel_error:.2e}"]
        if self.vjp_fd_max_rel_error is not None:
            lines.append(f"  vjp vs finite differences: max rel error "
                         f"{self.vjp_fd_max_rel_error:.2e}")
        lines.append(f"  dot-product test <Jv,w> vs <v,J^T w>: rel error "
                     f"{self.dot_product_rel_error:.2e}")
        pairs = ", ".join(f"{h:.0e}:{r:.1e}" for h, r in zip(self.taylor_h,
                                                            self.taylor_remainder))
        lines.append(f"  Taylor remainder (h: r) {pairs}; observed order "
                     f"{self.taylor_order:.2f} (2 expected)")
        return "\n".join(lines)


def _rel(a, b) -> float:
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    scale = max(1.0, float(np.max(np.abs(b))) if b.size else 1.0)
    return float(np.max(np.abs(a - b)) / scale) if a.size else 0.0


def _flat(x):
    return np.asarray(x, dtype=float).reshape(-1)


def check_grad(f, *args, argnums=None, seed: int = 0, h: float = 1e-6,
               rtol: float = 1e-5) -> GradCheckReport:
    """Check f's compiled derivatives at `args`; returns a report (truthy when it passed)."""
    func = unwrap(f)
    sig = signature_of(func, args)
    if argnums is None:
        argnums = tuple(i for i, s in enumerate(sig) if s.type is not None and
                        (getattr(s.type, "dtype", s.type)).is_float)
    elif isinstance(argnums, int):
        argnums = (argnums,)
    if not argnums:
        raise NonDifferentiable(f"check_grad: '{func.__name__}' has no float arguments to "
                                "check at these values", None,
                                "pass float values or arrays (2.0, not 2; dtype float64)")
    rng = np.random.default_rng(seed)
    rep = GradCheckReport(func.__name__, tuple(argnums), rtol=rtol)
    if any(scalar_of(sig[i].type).name == "f32" for i in argnums):
        rep.dot_tol = 1e-5

    def direction():
        return tuple((rng.normal(size=np.shape(a)) if isinstance(a, np.ndarray)
                      else float(rng.normal())) if i in argnums else None
                     for i, a in enumerate(args))

    def shifted(v, s):
        return tuple(a + s * t if t is not None else a for a, t in zip(args, v))

    def call(xs):
        out = func(*xs)
        return np.concatenate([_flat(o) for o in out]) if isinstance(out, tuple) else _flat(out)

    # 1. jvp vs central differences, a few random directions
    for _ in range(3):
        v = direction()
        _, jv = jvp(func, args, v)
        jv = np.concatenate([_flat(o) for o in jv]) if isinstance(jv, tuple) else _flat(jv)
        fd = (call(shifted(v, h)) - call(shifted(v, -h))) / (2 * h)
        rep.fd_max_rel_error = max(rep.fd_max_rel_error, _rel(jv, fd))
    # 2. dot-product test between forward and reverse mode
    v = direction()
    out, jv = jvp(func, args, v)
    out2, pullback = vjp(func, *args)
    w = tuple(rng.normal(size=np.shape(o)) if np.ndim(o) else float(rng.normal())
              for o in (out if isinstance(out, tuple) else (out,)))
    cots = pullback(w if isinstance(out, tuple) else w[0])
    jvs = jv if isinstance(jv, tuple) else (jv,)
    lhs = sum(float(np.sum(np.asarray(a) * np.asarray(b))) for a, b in zip(jvs, w))
    rhs = sum(float(np.sum(np.asarray(cots[i]) * np.asarray(v[i]))) for i in argnums)
    rep.dot_product_rel_error = abs(lhs - rhs) / max(1.0, abs(lhs))
    # reverse mode vs finite differences, component by component for small inputs
    if sum(np.size(args[i]) for i in argnums) <= 64:
        err = 0.0
        for i in argnums:
            g = _flat(cots[i])
            for j in range(np.size(args[i])):
                e = np.zeros(np.size(args[i]))
                e[j] = 1.0
                t = [None] * len(args)
                t[i] = e.reshape(np.shape(args[i])) if isinstance(args[i], np.ndarray) else 1.0
                col = (call(shifted(t, h)) - call(shifted(t, -h))) / (2 * h)
                wf = np.concatenate([_flat(x) for x in w])
                err = max(err, _rel(g[j], float(np.dot(col, wf))))
        rep.vjp_fd_max_rel_error = err
    # 3. Taylor remainder
    v = direction()
    f0 = call(args)
    _, jv = jvp(func, args, v)
    jv = np.concatenate([_flat(o) for o in jv]) if isinstance(jv, tuple) else _flat(jv)
    for k in range(5):
        step = 0.1 * 2.0 ** -k
        r = float(np.linalg.norm(call(shifted(v, step)) - f0 - step * jv))
        rep.taylor_h.append(step)
        rep.taylor_remainder.append(r)
    rs = np.array(rep.taylor_remainder)
    if np.all(rs > 1e-13):
        rep.taylor_order = float(np.polyfit(np.log(rep.taylor_h), np.log(rs), 1)[0])
    return rep
