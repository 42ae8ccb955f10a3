"""numba backend: in-place writes, argument and alias semantics, the disk cache across processes."""
import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest

import adcompile
from adcompile.api import Compiled


def fill(n):
    y = np.zeros(n)
    for i in range(n):
        y[i] = i * 0.5
        y[(i * 7) % n] += 1.0
    return y


def scale_arg(x, a):
    for i in range(x.shape[0]):
        x[i] *= a
    return x


def alias_write(x):
    y = x.copy()
    z = y
    z[0] = 42.0
    return y[0]


def keeps_old_version(x):
    y = x.copy()
    old = y.copy()
    for i in range(y.shape[0]):
        y[i] = 2.0 * y[i]
    return y[0] + old[0]


def _setup_lines(src: str) -> list[str]:
    return [ln for ln in src.splitlines() if ".copy()" in ln]


def test_element_writes_in_a_loop_copy_nothing():
    jf = adcompile.jit(fill, backend="numba")
    np.testing.assert_allclose(jf(50), fill(50))
    assert _setup_lines(jf.source) == []


def test_writing_an_argument_copies_it_once_and_leaves_the_caller_alone():
    jf = adcompile.jit(scale_arg, backend="numba")
    x = np.arange(5.0)
    out = jf(x, 3.0)
    np.testing.assert_allclose(out, np.arange(5.0) * 3)
    np.testing.assert_allclose(x, np.arange(5.0))  # documented: arguments are never modified
    copies = _setup_lines(jf.source)
    assert len(copies) == 1
    loop_line = next(i for i, ln in enumerate(jf.source.splitlines()) if ln.strip().startswith("for"))
    assert jf.source.splitlines().index(copies[0]) < loop_line


def test_write_through_alias_is_seen_by_the_other_name():
    assert adcompile.jit(alias_write, backend="numba")(np.ones(3)) == 42.0


def test_old_version_still_live_gets_exactly_one_copy_outside_the_loop():
    x = np.arange(1.0, 5.0)
    jf = adcompile.jit(keeps_old_version, backend="numba")
    assert jf(x) == keeps_old_version(x)
    src = jf.source.splitlines()
    loop = next(i for i, ln in enumerate(src) if ln.strip().startswith("for"))
    assert all(src.index(ln) < loop for ln in _setup_lines(jf.source))


def test_jit_decorator_forms_and_repr():
    @adcompile.jit
    def f(x):
        return x * 2.0

    assert isinstance(f, Compiled) and f(1.5) == 3.0
    g = adcompile.jit(backend="numba")(lambda_free)
    assert g(2.0) == 5.0
    assert "signatures" in repr(g)


def lambda_free(x):
    return x * x + 1.0


def test_second_process_loads_from_disk_cache(tmp_path):
    mod = tmp_path / "user_mod.py"
    mod.write_text(textwrap.dedent("""
        import numpy as np
        def work(x, n):
            s = 0.0
            for k in range(n):
                for i in range(x.shape[0]):
                    s += x[i] * k
            return s
    """))
    script = textwrap.dedent(f"""
        import sys, numpy as np
        sys.path.insert(0, {str(tmp_path)!r})
        import adcompile, user_mod
        f = adcompile.jit(user_mod.work, backend="numba")
        assert f(np.ones(4), 3) == 12.0
        disp = f._last.call
        print(sum(disp.stats.cache_hits.values()),
              sum(disp.stats.cache_misses.values()))
    """)
    env = dict(os.environ, ADCOMPILE_CACHE_DIR=str(tmp_path / "cache"))
    runs = [subprocess.run([sys.executable, "-c", script], env=env, capture_output=True,
                           text=True, check=True).stdout.split() for _ in range(2)]
    assert runs[0] == ["0", "1"]          # first process compiles
    assert runs[1] == ["1", "0"]          # second process loads, compiles nothing


def test_python_dash_m_and_console_script_agree():
    out = subprocess.run([sys.executable, "-m", "adcompile", "--version"], capture_output=True,
                         text=True, check=True).stdout
    assert out.strip() == f"adcompile {adcompile.__version__}"


def ratio(x, y):
    return x / y


def test_lowered_array_division_by_zero_is_numpys():
    """With lower_arrays=True an array division becomes a loop of scalar divisions; they are
    IEEE (inf, nan) as NumPy's, not numba's scalar `/` raising ZeroDivisionError."""
    from adcompile.driver.options import CompileOptions
    opts = CompileOptions(backend="numba", lower_arrays=True)
    x, y = np.array([1.0, 0.0, -2.0]), np.array([0.0, 0.0, 4.0])
    with np.errstate(all="ignore"):
        want = x / y
    np.testing.assert_array_equal(adcompile.jit(ratio, options=opts)(x, y), want)


def floor_ratio(x, y):
    return x // y, x % y


def test_lowered_array_floordiv_and_mod_by_zero_are_numpys():
    """The same for // and %: NumPy's inf/nan at a zero divisor (and its sign rules), not
    ZeroDivisionError."""
    from adcompile.driver.options import CompileOptions
    opts = CompileOptions(backend="numba", lower_arrays=True)
    x, y = np.array([1.0, -1.0, 0.0, -7.5, 7.5]), np.array([0.0, 0.0, 0.0, 2.0, -2.0])
    with np.errstate(all="ignore"):
        want = (x // y, x % y)
    got = adcompile.jit(floor_ratio, options=opts)(x, y)
    for g, w in zip(got, want):
        np.testing.assert_array_equal(g, w)


def _read_at(x, i):
    return x[i] * 2.0


def _write_at(x, i):
    y = x.copy()
    y[i] = 1.0
    return y


@pytest.mark.parametrize("backend", ["numba", "llvm"])
@pytest.mark.parametrize("fn,line", [(_read_at, "return x[i] * 2.0"), (_write_at, "y[i] = 1.0")])
def test_index_errors_name_the_users_line(backend, fn, line):
    """numba does not check bounds itself: the generated check raises IndexError with the
    file:line of the subscript, as the LLVM kernel does."""
    import inspect
    src, first = inspect.getsourcelines(fn)
    lineno = first + next(k for k, text in enumerate(src) if line in text)
    f = adcompile.jit(fn, backend=backend)
    with pytest.raises(IndexError) as e:
        f(np.arange(3.0), 3)
    assert str(e.value).splitlines()[0] == f"{__file__}:{lineno}: index out of bounds"
    with pytest.raises(IndexError):
        f(np.arange(3.0), -4)
    assert np.all(f(np.arange(3.0), -3) == fn(np.arange(3.0), -3))
