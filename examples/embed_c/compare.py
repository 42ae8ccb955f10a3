"""Check that the C program (main.c) and the Python reference (calibrate.py) agree.

Run:  python examples/embed_c/compare.py PATH/TO/embed_c_calibrate [--tol 1e-10] [--backend numba]

Runs the calibration in Python with adcompile.grad, runs the C executable, reads the last
line "alpha=<value>" of its output and fails (exit status 1) unless |alpha_c - alpha_py| <= tol.
CMake registers it as the CTest test embed_c_compare.
"""
import argparse
import os
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import calibrate  # noqa: E402


def c_alpha(exe):
    proc = subprocess.run([exe], capture_output=True, text=True)
    sys.stdout.write(proc.stdout)
    sys.stderr.write(proc.stderr)
    if proc.returncode != 0:
        raise SystemExit("FAIL: %s exited with status %d" % (exe, proc.returncode))
    last = proc.stdout.strip().splitlines()[-1]
    if not last.startswith("alpha="):
        raise SystemExit("FAIL: the last line of %s's output is %r, not alpha=<value>" % (exe, last))
    return float(last[len("alpha="):])


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("exe", help="the embed_c_calibrate executable")
    parser.add_argument("--tol", type=float, default=1e-10)
    parser.add_argument("--backend", default="numba", choices=("numba", "llvm"))
    opts = parser.parse_args(argv)

    print("--- C:", opts.exe)
    alpha_c = c_alpha(opts.exe)
    print("--- Python: calibrate.py (adcompile.grad, backend=%s)" % opts.backend)
    r = calibrate.calibrate(opts.backend, verbose=False)
    alpha_py = r["alpha"]
    diff = abs(alpha_c - alpha_py)
    print("alpha (C)      = %.17g" % alpha_c)
    print("alpha (Python) = %.17g" % alpha_py)
    print("|difference|   = %.3g  (tolerance %g)" % (diff, opts.tol))
    print("time per gradient call in Python: %.3f us (call overhead included)"
          % (r["time_per_grad"] * 1e6))
    if not diff <= opts.tol:
        print("FAIL")
        return 1
    print("OK")
    return 0


if __name__ == "__main__":
    sys.exit(main())
