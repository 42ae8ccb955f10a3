"""The driver's disk cache (adcompile/driver/disk_cache.py), across real processes.

Each test writes a small model module to a temporary folder and runs child processes that
compile and call its gradient with a shared ADCOMPILE_CACHE_DIR and ADCOMPILE_TIME_PASSES=1.
A second process must load the program without running the frontend; anything that changes
the program (a callee's source, a global's value, an option, adcompile's version) must make
it compile again; a damaged entry must fall back to compiling. Every gradient is checked
against the closed form and central differences of the model, so a stale or wrong program
fails the test whichever way it was obtained.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

from adcompile.driver import disk_cache
from adcompile.frontend.reads import MISSING

REPO = Path(__file__).resolve().parents[2]

MODEL = '''
import math

SCALE = 2.0


def helper(a, b):
    return a * b + 1.0


def f(x, y):
    s = 0.0
    for i in range(x.shape[0]):
        s += helper(x[i], y) * SCALE
    return s + math.sin(y)
'''

CHILD = r'''
import json, sys
import numpy as np
import adcompile
import adcompile.driver.compile as dc
import adcompile.driver.disk_cache as cache
import model
cfg = json.loads(sys.argv[1])
if "scale" in cfg:
    model.SCALE = cfg["scale"]
if "version" in cfg:
    cache.__version__ = cfg["version"]   # as if adcompile had been upgraded
    cache.stamp.cache_clear()
calls = [0]
real = dc.lower
def counting(*a, **k):
    calls[0] += 1
    return real(*a, **k)
dc.lower = counting
x = np.array([0.5, -1.0, 2.0])
y = 0.3
g = adcompile.grad(model.f, (0, 1), backend=cfg.get("backend", "llvm"))
gx, gy = g(x, y)
out = {"gx": list(gx), "gy": gy, "lower_calls": calls[0],
       "llvmlite_binding": "llvmlite.binding" in sys.modules}
if cfg.get("source"):
    out["source"] = len(g.source)
    out["ir"] = "return" in g.ir("primal")
print(json.dumps(out))
'''


def expected(scale: float, inner=None):
    """The model's gradient at the test point: the closed form (confirmed by central
    differences), or for an edited `inner` helper the central differences alone."""
    x, y = np.array([0.5, -1.0, 2.0]), 0.3
    helper = inner or (lambda a, b: a * b + 1.0)
    f = lambda x, y: sum(helper(a, y) * scale for a in x) + np.sin(y)   # noqa: E731
    h = 1e-6
    fd_y = (f(x, y + h) - f(x, y - h)) / (2 * h)
    fd_x = np.array([(f(x + h * e, y) - f(x - h * e, y)) / (2 * h) for e in np.eye(3)])
    if inner is not None:
        return fd_x, fd_y
    gx, gy = y * scale * np.ones(3), np.sum(x) * scale + np.cos(y)
    np.testing.assert_allclose(fd_x, gx, rtol=1e-6)
    np.testing.assert_allclose(fd_y, gy, rtol=1e-6)
    return gx, gy


@pytest.fixture
def project(tmp_path):
    (tmp_path / "model.py").write_text(MODEL)
    return tmp_path


def run(project: Path, env_extra: dict | None = None, **cfg) -> tuple[dict, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ADCOMPILE_")}
    env.update(ADCOMPILE_CACHE_DIR=str(project / "cache"), ADCOMPILE_TIME_PASSES="1",
               PYTHONPATH=os.pathsep.join([str(project), str(REPO)]))
    env.update(env_extra or {})
    proc = subprocess.run([sys.executable, "-c", CHILD, json.dumps(cfg)], cwd=project,
                          env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout.strip().splitlines()[-1]), proc.stderr


def check(out: dict, scale: float = 2.0, **kw) -> None:
    gx, gy = expected(scale, **kw)
    np.testing.assert_allclose(out["gx"], gx, rtol=1e-6)
    np.testing.assert_allclose(out["gy"], gy, rtol=1e-6)


def stages(err: str) -> list[str]:
    """The stage names of the ADCOMPILE_TIME_PASSES lines, in order."""
    return [ln.split()[1] + (" " + ln.split()[2] if ln.split()[1] == "disk" else "")
            for ln in err.splitlines() if ln.startswith("adcompile: ")]


def test_a_second_process_loads_the_program_without_the_frontend(project):
    cold, err = run(project)
    check(cold)
    assert cold["lower_calls"] == 1
    assert stages(err)[0] == "disk miss" and "frontend" in stages(err)
    assert "disk store" in stages(err)
    warm, err = run(project, source=True)
    check(warm)
    assert warm["lower_calls"] == 0   # the frontend never ran for the call...
    names = stages(err)
    call = names[:names.index("first") + 1]   # the lines of the call, before .source
    assert call == ["disk hit", "first"]
    assert "frontend" in names[len(call):]    # ...only when .source / the IR was asked for
    assert warm["source"] > 0 and warm["ir"]
    assert warm["gx"] == cold["gx"] and warm["gy"] == cold["gy"]


def test_a_warm_llvm_process_does_not_load_llvmlite(project):
    run(project)
    warm, err = run(project)
    assert stages(err)[0] == "disk hit"
    assert not warm["llvmlite_binding"]


def test_every_stage_is_one_timed_line(project):
    _, err = run(project)
    lines = [ln for ln in err.splitlines() if ln.startswith("adcompile: ")]
    assert lines and all(ln.rstrip().endswith("ms") or "ms  (" in ln for ln in lines)
    names = stages(err)
    for want in ("disk miss", "frontend", "pass", "backend", "disk store", "first"):
        assert want in names


def test_editing_a_callee_compiles_again(project):
    check(run(project)[0])
    (project / "model.py").write_text(MODEL.replace("a * b + 1.0", "a * b * b + 1.0"))
    out, err = run(project)
    assert stages(err)[0] == "disk miss" and out["lower_calls"] == 1
    check(out, inner=lambda a, b: a * b * b + 1.0)


def test_moving_the_function_in_its_file_compiles_again(project):
    """Error messages built into the program name lines: a shifted function is new code."""
    run(project)
    (project / "model.py").write_text("\n\n" + MODEL)
    _, err = run(project)
    assert stages(err)[0] == "disk miss"


def test_a_changed_global_compiles_again_and_its_old_value_finds_its_entry(project):
    check(run(project, scale=2.0)[0], 2.0)
    out, err = run(project, scale=3.0)
    assert stages(err)[0] == "disk miss"
    check(out, 3.0)
    out, err = run(project, scale=2.0)
    assert stages(err)[0] == "disk hit"
    check(out, 2.0)
    out, err = run(project, scale=2)    # an int is another constant type: another program
    assert stages(err)[0] == "disk miss"
    check(out, 2.0)


@pytest.mark.parametrize("env", [{"ADCOMPILE_CLEANUP": "0"}, {"ADCOMPILE_TAPE_LIMIT": "1KB"},
                                 {"ADCOMPILE_CHECK_TAPES": "1"}])
def test_a_changed_option_compiles_again(project, env):
    run(project)
    out, err = run(project, env)
    assert stages(err)[0] == "disk miss"
    check(out)


def test_another_adcompile_version_compiles_again(project):
    run(project)
    out, err = run(project, version="999.0")
    assert stages(err)[0] == "disk miss"
    check(out)


def test_the_disk_cache_can_be_switched_off(project):
    run(project)
    out, err = run(project, {"ADCOMPILE_DISK_CACHE": "0"})
    assert not any(s.startswith("disk") for s in stages(err))
    assert out["lower_calls"] == 1


def _entries(project: Path) -> list[Path]:
    return sorted((project / "cache" / "programs").rglob("*.json"))


@pytest.mark.parametrize("damage", ["truncate", "garbage", "wrong types"])
def test_a_damaged_entry_falls_back_to_compiling(project, damage):
    run(project)
    (entry,) = _entries(project)
    text = entry.read_text()
    entry.write_text({"truncate": text[:len(text) // 2], "garbage": "\0\1not json",
                      "wrong types": json.dumps({**json.loads(text), "artifact": [1, 2]})
                      }[damage])
    out, err = run(project)
    assert stages(err)[0] == "disk miss"
    check(out)
    _, err = run(project)   # the entry was rewritten whole
    assert stages(err)[0] == "disk hit"


def test_a_deleted_library_falls_back_to_compiling(project):
    run(project)
    for lib in (project / "cache" / "llvm").glob("*.so"):
        lib.unlink()
    out, err = run(project)
    assert stages(err)[0] == "disk miss"
    check(out)


def test_concurrent_cold_processes_agree(project):
    env = {k: v for k, v in os.environ.items() if not k.startswith("ADCOMPILE_")}
    env.update(ADCOMPILE_CACHE_DIR=str(project / "cache"),
               PYTHONPATH=os.pathsep.join([str(project), str(REPO)]))
    procs = [subprocess.Popen([sys.executable, "-c", CHILD, "{}"], cwd=project, env=env,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for _ in range(3)]
    for p in procs:
        out, err = p.communicate(timeout=300)
        assert p.returncode == 0, err
        check(json.loads(out.strip().splitlines()[-1]))
    assert len(_entries(project)) == 1
    assert not list((project / "cache" / "programs").rglob("*.tmp"))
    _, err = run(project)
    assert stages(err)[0] == "disk hit"


def test_the_numba_backend_imports_its_generated_module_on_a_hit(project):
    check(run(project, backend="numba")[0])
    out, err = run(project, backend="numba", source=True)
    assert stages(err)[0] == "disk hit" and out["lower_calls"] == 0
    assert out["source"] > 0
    check(out)


# -- fingerprints (in this process) ---------------------------------------------------------------
def test_fingerprints_tell_values_apart_and_refuse_what_they_cannot_check():
    fp = disk_cache.fingerprint
    assert fp(2.0) == fp(2.0) and fp(2.0) != fp(2) and fp(2.0) != fp(np.float64(2.0))
    assert fp(0.0) != fp(-0.0) and fp(True) != fp(1)
    assert fp((1, 2.0)) != fp((1, 2.5)) and fp(MISSING) != fp(None)
    a = np.arange(3.0)
    assert fp(a) == fp(a.copy()) and fp(a) != fp(a + 1) and fp(a) != fp(a.astype(np.float32))
    assert fp(np) == fp(np) and fp(np.exp) != fp(np.sin)
    assert fp(expected) is not None   # a module-level function: by its source

    class Config:
        pass

    def local(x):
        return x

    assert fp(Config()) is None and fp(Config) is None   # user objects and classes
    assert fp(local) is None                             # not importable by name
    assert fp((1, Config())) is None


def test_a_callee_that_is_a_closure_is_not_cached_on_disk():
    def make(k):
        def inner(x):
            return k * x
        return inner

    inner = make(2.0)
    assert disk_cache.dependencies(test_a_callee_that_is_a_closure_is_not_cached_on_disk,
                                   [], [inner]) is None
    assert disk_cache.dependencies(expected, [], [expected, check]) == \
        [["source", __name__, "check", disk_cache.callee_fingerprint(check)]]


def test_functions_without_source_have_no_key():
    ns: dict = {}
    exec(textwrap.dedent("def g(x):\n    return x\n"), ns)
    from adcompile.driver.options import CompileOptions
    assert disk_cache.program_key(ns["g"], (), None, CompileOptions()) is None


# -- what a program depends on beyond its own source ----------------------------------------------
def test_a_callee_default_from_another_module_is_a_dependency(project):
    (project / "settings.py").write_text("K = 1.0\n")
    (project / "model.py").write_text(MODEL.replace("import math", "import math\nimport settings")
                                      .replace("def helper(a, b):\n    return a * b + 1.0",
                                               "def helper(a, b, k=settings.K):\n"
                                               "    return a * b * k + 1.0"))
    check(run(project)[0])
    (project / "settings.py").write_text("K = 3.0\n")
    out, err = run(project)
    assert stages(err)[0] == "disk miss"
    check(out, inner=lambda a, b: a * b * 3.0 + 1.0)


def test_a_jit_callee_is_cached_and_its_edit_compiles_again(project):
    jitted = MODEL.replace("import math", "import math\nimport adcompile") \
        .replace("def helper", "@adcompile.jit\ndef helper")
    (project / "model.py").write_text(jitted)
    _, err = run(project)
    assert "not cacheable" not in err
    out, err = run(project)
    assert stages(err)[0] == "disk hit"
    check(out)
    (project / "model.py").write_text(jitted.replace("a * b + 1.0", "a * b * b + 1.0"))
    out, err = run(project)
    assert stages(err)[0] == "disk miss"
    check(out, inner=lambda a, b: a * b * b + 1.0)


def test_a_custom_rule_reached_through_a_module_is_not_cached_on_disk(project):
    """The rule's own globals are not among the program's reads: nothing may be reused."""
    (project / "rules.py").write_text(textwrap.dedent('''
        import numpy as np
        import adcompile


        @adcompile.custom_jvp
        def twice(x):
            return 2.0 * x


        @twice.defjvp
        def twice_jvp(primals, tangents):
            (x,), (t,) = primals, tangents
            return 2.0 * x, 2.0 * t
        '''))
    (project / "model.py").write_text(MODEL.replace("import math", "import math\nimport rules")
                                      .replace("* SCALE", "* rules.twice(1.0)"))
    out, err = run(project)
    assert "not cacheable" in err
    check(out)
    _, err = run(project)
    assert stages(err)[0] == "disk miss"
