"""Worker processes with a per-task timeout: a hang or a crash is a result, and the run goes on.

Each worker is a spawned process with its own adcompile cache directory (and its own folder for
the generated program modules), both under the run's scratch folder, removed at the end: the
backends' disk caches write atomically, but per-worker folders keep concurrent numba cache
indexes out of the question and keep the disk clean.  A worker runs tasks one at a time and is
replaced after `recycle` tasks (every compiled program stays in memory until its process ends),
after a timeout (it is killed) and after a crash.

Tasks are tuples (kind, id, payload); a worker says ("ready", 0, None) once it has imported
adcompile (the task's clock starts then), ("at", id, check) before each check, so a hang names
the check that hung, then ("done", id, result, cpu seconds).
"""
from __future__ import annotations

import dataclasses
import multiprocessing as mp
import os
import shutil
import sys
import tempfile
import time
from collections.abc import Callable
from multiprocessing.connection import wait
from typing import Any

from .checks import check_function, engines_of
from .generate import Drawn, shrink


# -- inside a worker ---------------------------------------------------------------------------
def _worker_main(conn, scratch: str, engines: tuple, repo: str,
                 checkpoint_backends: tuple = ("llvm",), preimport: bool = True) -> None:
    os.environ["ADCOMPILE_CACHE_DIR"] = os.path.join(scratch, "cache")
    mods = os.path.join(scratch, "modules")
    os.makedirs(mods, exist_ok=True)
    tempfile.tempdir = mods           # where tests.programs.load_function puts the modules
    if repo not in sys.path:
        sys.path.insert(0, repo)
    import warnings
    warnings.simplefilter("ignore")   # tape-budget and numba warnings are not findings
    if preimport:  # not before a shrink's replay: see `Pool._dispatch`
        import numba  # noqa: F401

        import adcompile  # noqa: F401  (imports are not charged to the first task's timeout)
    conn.send(("ready", 0, None))
    while True:
        task = conn.recv()
        if task is None:
            return
        kind, tid, payload = task

        def at(check, tid=tid):
            conn.send(("at", tid, check))
        cpu = _cpu()
        if kind == "check":
            drawn: Drawn = payload
            p = drawn.program
            value = check_function(p.load(), p.args, engines, on_start=at,
                                   checkpoint_backends=checkpoint_backends)
        else:
            value = _shrink_task(payload)
        conn.send(("done", tid, value, _cpu() - cpu))


def _cpu() -> float:
    """CPU seconds of this process and its finished children (the C compiler of LLVM builds)."""
    t = os.times()
    return t.user + t.system + t.children_user + t.children_system


def _shrink_task(t: dict):
    last: dict[str, Any] = {}

    def still_fails(d: Drawn) -> bool:
        p = d.program
        outs = check_function(p.load(), p.args, engines_of(t["check"]), only={t["check"]},
                              checkpoint_backends=())
        for o in outs:
            if o.check == t["check"] and o.status == "fail" and o.kind == t["kind"]:
                last[d.digest] = o
                return True
        return False

    res = shrink(t["seed"], t["batch"], t["size"], t["position"], t["digest"], still_fails,
                 t["budget"], t.get("large", False))
    outcome = last.get(res.best.digest) if res.best is not None else None
    return res, outcome


STARTUP_S = 300.0   # the most a worker may take to import adcompile and numba


def _clear_programs(folder: str) -> None:
    """Delete what the last worker of a slot compiled (the disk would fill over a long run),
    keeping the LLVM runtime objects, which every worker reuses."""
    shutil.rmtree(os.path.join(folder, "modules"), ignore_errors=True)
    shutil.rmtree(os.path.join(folder, "cache", "numba"), ignore_errors=True)
    llvm = os.path.join(folder, "cache", "llvm")
    if os.path.isdir(llvm):
        for name in os.listdir(llvm):
            if not name.startswith("runtime-"):
                path = os.path.join(llvm, name)
                shutil.rmtree(path, ignore_errors=True) if os.path.isdir(path) else os.remove(path)


# -- in the parent -----------------------------------------------------------------------------
@dataclasses.dataclass
class Task:
    kind: str             # "check" | "shrink"
    payload: Any
    timeout: float
    meta: Any = None      # the caller's, handed back with the result
    id: int = 0


@dataclasses.dataclass
class TaskResult:
    task: Task
    status: str           # "done" | "timeout" | "crash"
    value: Any = None
    last_check: str = ""  # the check running when it hung or crashed
    exitcode: int | None = None
    seconds: float = 0.0
    cpu_seconds: float = 0.0   # the worker's own CPU time on it (what an idle core would take)


@dataclasses.dataclass
class _Slot:
    index: int
    proc: Any = None
    conn: Any = None
    task: Task | None = None
    started: float = 0.0
    last_check: str = ""
    done: int = 0
    ready: bool = False


class Pool:
    """`jobs` workers; `submit` tasks, `results()` yields them as they finish."""

    def __init__(self, jobs: int, engines: tuple, recycle: int = 50,
                 scratch: str | None = None, checkpoint_backends: tuple = ("llvm",)):
        self.jobs = jobs
        self.engines = tuple(engines)
        self.checkpoint_backends = tuple(checkpoint_backends)
        self.recycle = recycle
        self.scratch = scratch or tempfile.mkdtemp(prefix="adcompile_fuzz_")
        self.repo = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
        self.ctx = mp.get_context("spawn")
        self.slots = [_Slot(i) for i in range(jobs)]
        self.queue: list[Task] = []
        self.ids = 0

    # -- workers
    def _start(self, slot: _Slot, preimport: bool = True) -> None:
        parent, child = self.ctx.Pipe()
        folder = os.path.join(self.scratch, f"w{slot.index}")
        _clear_programs(folder)
        proc = self.ctx.Process(target=_worker_main, args=(child, folder, self.engines, self.repo,
                                                       self.checkpoint_backends, preimport),
                                daemon=True)
        proc.start()
        child.close()
        slot.proc, slot.conn, slot.done, slot.ready = proc, parent, 0, False

    def _stop(self, slot: _Slot, kill: bool = False) -> None:
        if slot.proc is None:
            return
        if not kill:
            try:
                slot.conn.send(None)
            except OSError:
                kill = True
        if not kill:
            slot.proc.join(10)
        if slot.proc.is_alive():
            slot.proc.kill()
            slot.proc.join(5)
        slot.conn.close()
        slot.proc = slot.conn = None

    def close(self) -> None:
        for s in self.slots:
            self._stop(s)
        shutil.rmtree(self.scratch, ignore_errors=True)

    # -- tasks
    def submit(self, task: Task, first: bool = False) -> None:
        self.ids += 1
        task.id = self.ids
        if first:
            self.queue.insert(0, task)
        else:
            self.queue.append(task)

    @property
    def busy(self) -> int:
        return sum(s.task is not None for s in self.slots)

    def _dispatch(self) -> None:
        for s in self.slots:
            if s.task is None and self.queue:
                task = self.queue.pop(0)
                # Hypothesis mixes constants harvested from the loaded non-test modules into
                # what it draws, so a shrink's replay must run, like the generator, in a
                # process that has not imported adcompile nor any program: a fresh worker,
                # replaced after the shrink.
                fresh = task.kind == "shrink"
                if s.proc is None or s.done >= self.recycle or fresh:
                    self._stop(s)
                    self._start(s, preimport=not fresh)
                if fresh:
                    s.done = self.recycle
                s.task = task
                # a starting worker's clock starts when it is ready (within STARTUP_S)
                s.started = time.monotonic() + (0.0 if s.ready else STARTUP_S)
                s.last_check = ""
                s.conn.send((s.task.kind, s.task.id, s.task.payload))

    def _finish(self, s: _Slot, status: str, value=None, exitcode=None,
                cpu: float = 0.0) -> TaskResult:
        r = TaskResult(s.task, status, value, s.last_check, exitcode,
                       time.monotonic() - s.started, cpu)
        s.task = None
        s.done += 1
        return r

    def poll(self, refill: Callable[[], None] | None = None, wait_s: float = 1.0):
        """Dispatch queued tasks, wait up to `wait_s`, return the results that came in."""
        if refill is not None:
            refill()
        self._dispatch()
        out: list[TaskResult] = []
        active = [s for s in self.slots if s.task is not None]
        if not active:
            return out
        now = time.monotonic()
        soonest = max(0.05, min(s.started + s.task.timeout for s in active) - now)
        ready = wait([s.conn for s in active] + [s.proc.sentinel for s in active],
                     timeout=min(wait_s, soonest))
        for s in active:
            if s.conn in ready or s.conn.poll():
                try:
                    while s.task is not None and s.conn.poll():
                        msg = s.conn.recv()
                        if msg[0] == "ready":
                            s.ready, s.started = True, time.monotonic()
                        elif msg[1] != s.task.id:
                            continue
                        elif msg[0] == "at":
                            s.last_check = msg[2]
                        else:
                            out.append(self._finish(s, "done", msg[2], cpu=msg[3]))
                except (EOFError, OSError):
                    pass
            if s.task is None:
                continue
            if not s.proc.is_alive():
                code = s.proc.exitcode
                out.append(self._finish(s, "crash", exitcode=code))
                self._stop(s, kill=True)
            elif time.monotonic() - s.started > s.task.timeout:
                out.append(self._finish(s, "timeout"))
                self._stop(s, kill=True)
        return out
