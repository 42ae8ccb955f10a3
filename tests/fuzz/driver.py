"""The fuzz run: generate programs in batches, check them in the worker pool, shrink the first
failures of each (check, kind) group, write reproducers and the summary."""
from __future__ import annotations

import collections
import dataclasses
import os
import queue
import sys
import threading
import time

from .checks import ENGINES, Outcome
from .generate import Drawn, StopGenerating, generate_batch
from .pool import Pool, Task
from .report import Finding, Tally, summary_text, write_reproducer, write_summary


@dataclasses.dataclass
class FuzzConfig:
    out: str
    programs: int = 100
    jobs: int = 1
    seed: int = 0
    engines: tuple = ENGINES
    checkpoint_backends: tuple = ("llvm",)   # where vjp under a checkpoint policy is checked
    timeout: float = 300.0         # per program, all its checks
    batch_size: int = 500          # programs per seeded hypothesis run
    shrink_budget: float = 120.0   # seconds of shrinking per shrunk finding
    shrink_per_group: int = 2      # findings shrunk per (check, kind); the rest written as found
    recycle: int = 50              # tasks per worker process before it is replaced
    minutes: float | None = None   # stop starting programs after this long
    large: bool = False            # also draw "large" programs
    command: str = ""
    progress: bool = True


class _Source:
    """The stream of not yet seen programs, (batch, position, Drawn): a background thread
    draws them (one seeded hypothesis run per batch) while the pool works, a few ahead."""

    def __init__(self, cfg: FuzzConfig, ahead: int = 64):
        self.cfg = cfg
        self.drawn: queue.Queue = queue.Queue(maxsize=ahead)
        self.seen: set = set()
        self.duplicates = 0
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._generate, daemon=True)
        self.thread.start()

    def _generate(self) -> None:
        b = 0
        while not self.stop.is_set():
            position = iter(range(self.cfg.batch_size))

            def sink(d, b=b, position=position):
                item = (b, next(position), d)
                while True:
                    if self.stop.is_set():
                        raise StopGenerating
                    try:
                        self.drawn.put(item, timeout=0.5)
                        return
                    except queue.Full:
                        continue
            generate_batch(self.cfg.seed, b, self.cfg.batch_size, sink, self.cfg.large)
            b += 1

    def next(self, block: bool = True) -> tuple[int, int, Drawn] | None:
        while True:
            try:
                b, i, d = self.drawn.get(block=block)
            except queue.Empty:
                return None
            if d.digest in self.seen:
                self.duplicates += 1
                continue
            self.seen.add(d.digest)
            return b, i, d


class Run:
    def __init__(self, cfg: FuzzConfig):
        self.cfg = cfg
        self.source = _Source(cfg)
        self.tally = Tally()
        self.findings: list[Finding] = []
        self.groups: collections.Counter = collections.Counter()
        self.submitted = 0
        self.checked = 0
        self.cpu_s = 0.0        # workers' CPU time on checks (shrinking excluded)
        self.t0 = time.monotonic()
        self.pool = Pool(cfg.jobs, cfg.engines, cfg.recycle,
                         checkpoint_backends=cfg.checkpoint_backends)

    # -- feeding the pool
    def out_of_time(self) -> bool:
        m = self.cfg.minutes
        return m is not None and time.monotonic() - self.t0 > 60.0 * m

    def refill(self) -> None:
        while (len(self.pool.queue) < self.cfg.jobs and self.submitted < self.cfg.programs
               and not self.out_of_time()):
            # block only when no worker would be busy meanwhile
            got = self.source.next(block=not self.pool.busy and not self.pool.queue)
            if got is None:
                return
            b, i, d = got
            self.submitted += 1
            self.pool.submit(Task("check", d, self.cfg.timeout, (self.submitted, b, i)))

    # -- results
    def origin(self, b: int, i: int) -> str:
        return f"seed {self.cfg.seed} batch {b} position {i}"

    def on_checked(self, task: Task, outcomes: list[Outcome]) -> None:
        index, b, i = task.meta
        self.tally.add(outcomes)
        for o in outcomes:
            if o.status == "fail":
                self.add_finding(Finding(index, task.payload, o.check, o.kind, o.detail,
                                         self.origin(b, i)), b, i)

    def add_finding(self, f: Finding, b: int | None, i: int | None) -> None:
        self.findings.append(f)
        self.groups[f.signature] += 1
        shrinkable = f.kind not in ("timeout",) and not f.kind.startswith("crash")
        if (shrinkable and b is not None and self.cfg.shrink_budget > 0
                and self.groups[f.signature] <= self.cfg.shrink_per_group):
            payload = {"seed": self.cfg.seed, "batch": b, "size": self.cfg.batch_size,
                       "position": i, "digest": f.drawn.digest, "check": f.check,
                       "kind": f.kind, "budget": self.cfg.shrink_budget, "large": self.cfg.large}
            timeout = self.cfg.shrink_budget + self.cfg.timeout + 120.0
            self.pool.submit(Task("shrink", payload, timeout, f), first=True)
        else:
            if shrinkable and self.groups[f.signature] > self.cfg.shrink_per_group:
                f.shrink_note = f"the first {self.cfg.shrink_per_group} of this group are shrunk"
            self.write(f)

    def write(self, f: Finding) -> None:
        path = write_reproducer(self.cfg.out, f, self.cfg.command)
        self.say(f"finding: {f.check}: {f.kind} -> {path}")

    def on_result(self, r) -> None:
        t = r.task
        if t.kind == "check":
            self.checked += 1
            self.cpu_s += r.cpu_seconds if r.status == "done" else r.seconds
            d: Drawn = t.payload
            self.tally.kinds[d.kind] += 1
            if r.status == "done":
                self.on_checked(t, r.value)
                return
            index, b, i = t.meta
            check = r.last_check or "cpython"
            kind = "timeout" if r.status == "timeout" else f"crash (exit {r.exitcode})"
            self.tally.add([Outcome(check, "fail", kind, seconds=r.seconds)])
            what = (f"ran past the per-program timeout of {self.cfg.timeout:g} s"
                    if r.status == "timeout" else f"died with exit code {r.exitcode}")
            detail = f"the worker {what} while running check {check}"
            self.add_finding(Finding(index, d, check, kind, detail, self.origin(b, i)), None, None)
            return
        f: Finding = t.meta
        if r.status == "done":
            res, outcome = r.value
            f.shrink_note = f"{res.candidates} candidates in {res.seconds:.0f} s, {res.note}"
            if res.best is not None and outcome is not None:
                f.shrunk, f.shrunk_detail = res.best, outcome.detail
        else:
            f.shrink_note = f"shrinking ended by a {r.status} of its worker"
        self.write(f)

    def say(self, text: str) -> None:
        if self.cfg.progress:
            print(text, file=sys.stderr, flush=True)

    # -- the loop
    def loop(self) -> None:
        last = time.monotonic()
        while True:
            for r in self.pool.poll(self.refill):
                self.on_result(r)
            if not self.pool.queue and not self.pool.busy:
                break
            if time.monotonic() - last > 30:
                last = time.monotonic()
                el = last - self.t0
                self.say(f"[{self.checked}/{self.cfg.programs}] {el:.0f} s, "
                         f"{self.checked / (el / 60):.1f} programs/min, "
                         f"{len(self.findings)} finding(s)")

    def finish(self, interrupted: bool) -> str:
        for t in self.pool.queue:   # unfinished shrinks: write what was found
            if t.kind == "shrink":
                t.meta.shrink_note = "run interrupted before shrinking"
                self.write(t.meta)
        for s in self.pool.slots:
            if s.task is not None and s.task.kind == "shrink":
                s.task.meta.shrink_note = "run interrupted while shrinking"
                self.write(s.task.meta)
        self.pool.close()
        self.source.stop.set()
        wall = time.monotonic() - self.t0
        extra = {"seed": self.cfg.seed, "engines": ",".join(self.cfg.engines),
                 "out": self.cfg.out}
        if self.checked:
            per = self.cpu_s / self.checked
            extra["worker CPU time per program"] = (
                f"{per:.2f} s, i.e. {60 / max(per, 1e-9):.1f} programs per CPU-minute "
                f"(an idle core's throughput)")
        if interrupted:
            extra["interrupted"] = "yes"
        text = summary_text(self.tally, self.findings, self.checked, self.source.duplicates,
                            wall, self.cfg.jobs, extra)
        data = {"programs": self.checked, "duplicates": self.source.duplicates, "wall_s": wall,
                "cpu_s": self.cpu_s, "jobs": self.cfg.jobs, "seed": self.cfg.seed,
                "engines": self.cfg.engines, "kinds": dict(self.tally.kinds),
                "checks": {k: dict(v) for k, v in self.tally.counts.items()},
                "seconds": dict(self.tally.seconds),
                "findings": [{"check": f.check, "kind": f.kind, "path": f.path,
                              "index": f.index, "shrunk": f.shrunk is not None}
                             for f in self.findings]}
        write_summary(self.cfg.out, text, data)
        return text


def run(cfg: FuzzConfig) -> int:
    """Run the fuzzer; print the summary; exit status 1 if anything was found."""
    os.makedirs(cfg.out, exist_ok=True)
    r = Run(cfg)
    interrupted = False
    try:
        r.loop()
    except KeyboardInterrupt:
        interrupted = True
    print(r.finish(interrupted))
    return 1 if r.findings else 0
