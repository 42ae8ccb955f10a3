"""Pickling every compiled object kind across real processes (adcompile/pickling.py).

A producer script, run as `__main__` (so its functions cannot be imported elsewhere), builds
jit, grad, value_and_grad, jacfwd, jacrev and hessian objects, calls them, and pickles them
with their results. A fresh consumer process (which cannot import the producer) unpickles
and calls them: results must be equal, match central differences, and, with the shared disk
cache, the frontend must not be entered.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

REPO = Path(__file__).resolve().parents[2]

PRODUCER = r'''
import pickle, sys
import numpy as np
import adcompile as ad

SCALE = 3.0

def f(x):
    s = 0.0
    for i in range(x.shape[0]):
        s += SCALE * np.sin(x[i]) * x[i]
    return s

def g(x):
    return np.sin(x) * SCALE

x = np.array([0.3, -1.2, 2.0])
objs = {"jit": ad.jit(f, backend="llvm"), "grad": ad.grad(f, backend="llvm"),
        "value_and_grad": ad.value_and_grad(f, backend="llvm"),
        "jacfwd": ad.jacfwd(g, backend="llvm"), "jacrev": ad.jacrev(g, backend="llvm"),
        "hessian": ad.hessian(f, backend="llvm")}
results = {k: o(x) for k, o in objs.items()}
with open(sys.argv[1], "wb") as fh:
    pickle.dump((objs, results, x), fh)
'''

CONSUMER = r'''
import json, pickle, sys
import numpy as np
import adcompile.driver.compile as dc
calls = [0]
real = dc.lower
def counting(*a, **k):
    calls[0] += 1
    return real(*a, **k)
dc.lower = counting
objs, results, x = pickle.load(open(sys.argv[1], "rb"))
out = {}
for k, o in objs.items():
    r = o(x)
    same = all(np.array_equal(np.asarray(a), np.asarray(b))
               for a, b in zip(r if isinstance(r, tuple) else (r,),
                               results[k] if isinstance(results[k], tuple) else (results[k],)))
    out[k] = {"same": bool(same), "value": np.asarray(r[1] if k == "value_and_grad" else r).tolist()}
out["frontend_calls"] = calls[0]
print(json.dumps(out))
'''


def _run(script: str, *args, cwd, cache) -> str:
    env = dict(os.environ, PYTHONPATH=str(REPO), ADCOMPILE_CACHE_DIR=str(cache))
    p = subprocess.run([sys.executable, script, *args], cwd=cwd, env=env,
                       capture_output=True, text=True, timeout=240)
    assert p.returncode == 0, p.stderr
    return p.stdout


def _fd(fun, x, h=1e-6):
    cols = []
    for i in range(x.size):
        e = np.zeros_like(x); e[i] = h
        cols.append((np.asarray(fun(x + e)) - np.asarray(fun(x - e))) / (2 * h))
    return np.stack(cols, axis=-1)


def test_every_kind_round_trips_in_a_fresh_process(tmp_path):
    prod, cons = tmp_path / "producer", tmp_path / "consumer"
    prod.mkdir(); cons.mkdir()
    (prod / "make.py").write_text(PRODUCER)
    (cons / "use.py").write_text(CONSUMER)
    blob = tmp_path / "objs.pkl"
    _run("make.py", str(blob), cwd=prod, cache=tmp_path / "cache")
    # the built LLVM libraries travel inside the pickle: a worker with its own, empty cache
    # calls every object without entering the frontend (nothing is compiled there)
    first = json.loads(_run("use.py", str(blob), cwd=cons, cache=tmp_path / "worker1"))
    assert first.pop("frontend_calls") == 0
    assert any(p.name.startswith("shipped_") for p in (tmp_path / "worker1" / "llvm").iterdir())
    out = json.loads(_run("use.py", str(blob), cwd=cons, cache=tmp_path / "worker1"))
    assert out.pop("frontend_calls") == 0
    assert out == first
    for k, r in out.items():
        assert r["same"], k
    x = np.array([0.3, -1.2, 2.0])
    f = lambda x: float(np.sum(3.0 * np.sin(x) * x))                 # noqa: E731
    df = lambda x: 3.0 * (np.cos(x) * x + np.sin(x))                  # noqa: E731
    g = lambda x: 3.0 * np.sin(x)                                     # noqa: E731
    assert np.isclose(out["jit"]["value"], f(x))
    np.testing.assert_allclose(out["grad"]["value"], _fd(f, x), rtol=1e-7, atol=1e-8)
    np.testing.assert_allclose(out["grad"]["value"], df(x), rtol=1e-12)
    np.testing.assert_allclose(out["value_and_grad"]["value"], df(x), rtol=1e-12)
    np.testing.assert_allclose(out["jacfwd"]["value"], _fd(g, x), rtol=1e-7, atol=1e-8)
    np.testing.assert_allclose(out["jacrev"]["value"], np.diag(3.0 * np.cos(x)), atol=1e-14)
    np.testing.assert_allclose(out["hessian"]["value"], _fd(df, x), rtol=1e-6, atol=1e-7)


def test_closure_gives_a_precise_error():
    import pickle
    import adcompile as ad
    from adcompile.errors import AdError
    k = 2.0

    def h(x):
        return k * x
    with pytest.raises(AdError, match="closure"):
        pickle.dumps(ad.jit(h))


def _quartic(x):
    s = 0.0
    for i in range(x.shape[0]):
        s += x[i] ** 4 - x[i]
    return s


def test_programs_built_on_another_platform_warn_and_compile(monkeypatch):
    """A shipped library is used only on the platform it was built for; elsewhere the worker
    is told (ShippingWarning) and compiles, with the same result."""
    import pickle
    import adcompile as ad
    from adcompile.driver import shipping
    g = ad.grad(_quartic, backend="llvm")
    x = np.array([0.5, -1.0, 2.0])
    want = g(x)
    blob = pickle.dumps(g)
    assert len(shipping.export(_quartic, g.options)) == 1
    monkeypatch.setattr(shipping, "platform_stamp", lambda: "another machine")
    with pytest.warns(shipping.ShippingWarning, match="built on another platform"):
        h = pickle.loads(blob)
    np.testing.assert_array_equal(h(x), want)
    np.testing.assert_allclose(want, 4 * x ** 3 - 1, rtol=1e-14)
