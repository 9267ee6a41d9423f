"""Measuring a command's whole process tree on Linux: wall time, CPU time, peak memory.

CPU time comes from ``wait4`` on the root process: the kernel adds to it the time of every
descendant that was waited for, so the CLI processes, ``xargs``'s children and the ``git``
the CLI forks all count. Peak memory is sampled from ``/proc``: the sum over the tree of
resident memory (RSS, which counts pages shared by several processes once per process) and
of proportional memory (PSS, which splits shared pages between the processes sharing them).
"""

from __future__ import annotations

import math
import os
import subprocess
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from contextlib import AbstractContextManager, ExitStack
from dataclasses import dataclass
from pathlib import Path

from copilot_batch.testing.processes import process_parents, read_proc, stat_fields

PAGE_SIZE = os.sysconf("SC_PAGE_SIZE")
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
MIB = 1024 * 1024


def parse_stat(text: str) -> tuple[int, float]:
    """(parent pid, CPU seconds of the process and its waited-for children) from the text
    of ``/proc/PID/stat``."""
    fields = stat_fields(text)
    # fields[0] is field 3 (state): ppid is field 4; utime, stime, cutime, cstime 14-17.
    ticks = sum(int(value) for value in fields[11:15])
    return int(fields[1]), ticks / CLOCK_TICKS


def descendants(root: int, parents: Mapping[int, int]) -> list[int]:
    """``root`` and every process below it, given each process's parent."""
    children: dict[int, list[int]] = {}
    for pid, parent in parents.items():
        children.setdefault(parent, []).append(pid)
    tree, frontier = [root], [root]
    while frontier:
        frontier = [child for pid in frontier for child in children.get(pid, [])]
        tree.extend(frontier)
    return tree


def rss_bytes(pid: int) -> int:
    text = read_proc(f"/proc/{pid}/statm")
    return int(text.split()[1]) * PAGE_SIZE if text else 0


def pss_bytes(pid: int) -> int:
    text = read_proc(f"/proc/{pid}/smaps_rollup")
    for line in (text or "").splitlines():
        if line.startswith("Pss:"):
            return int(line.split()[1]) * 1024
    return 0


def cpu_seconds(pid: int) -> float:
    """CPU seconds of a live process and of its children it has waited for."""
    text = read_proc(f"/proc/{pid}/stat")
    return parse_stat(text)[1] if text else 0.0


@dataclass
class TreePeaks:
    rss_bytes: int = 0
    pss_bytes: int = 0
    processes: int = 0


class TreeSampler:
    """Samples a process tree's memory in a thread until stopped; keeps the peaks.

    RSS is read every ``interval`` seconds; PSS, which makes the kernel walk every page
    table, every ``pss_every`` samples."""

    def __init__(self, root: int, interval: float = 0.2, pss_every: int = 5) -> None:
        self.root = root
        self.peaks = TreePeaks()
        self._interval = interval
        self._pss_every = pss_every
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> TreeSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._stop.set()
        self._thread.join()

    def _run(self) -> None:
        samples = 0
        while not self._stop.is_set():
            tree = descendants(self.root, process_parents())
            self.peaks.rss_bytes = max(self.peaks.rss_bytes, sum(map(rss_bytes, tree)))
            self.peaks.processes = max(self.peaks.processes, len(tree))
            if samples % self._pss_every == 0:
                self.peaks.pss_bytes = max(self.peaks.pss_bytes, sum(map(pss_bytes, tree)))
            samples += 1
            self._stop.wait(self._interval)


@dataclass(frozen=True)
class Measurement:
    wall_seconds: float
    user_seconds: float
    system_seconds: float
    peaks: TreePeaks
    returncode: int

    @property
    def cpu_seconds(self) -> float:
        return self.user_seconds + self.system_seconds


def measure(
    command: Sequence[str],
    *,
    env: Mapping[str, str],
    cwd: Path,
    stdout: Path,
    watch: Callable[[int], AbstractContextManager[object]] | None = None,
) -> Measurement:
    """Run ``command`` to its end, its output to ``stdout``, and measure its tree;
    ``watch(pid)``, if given, is entered while the command runs (a sampler of its own)."""
    with open(stdout, "wb") as output, ExitStack() as watching:
        started = time.monotonic()
        process = subprocess.Popen(
            command, env=dict(env), cwd=cwd, stdout=output, stderr=subprocess.STDOUT
        )
        if watch is not None:
            watching.enter_context(watch(process.pid))
        with TreeSampler(process.pid) as sampler:
            _, status, usage = os.wait4(process.pid, 0)
        wall = time.monotonic() - started
    process.returncode = os.waitstatus_to_exitcode(status)
    return Measurement(wall, usage.ru_utime, usage.ru_stime, sampler.peaks, process.returncode)


def lower_bound(
    tasks: int, concurrency: int, latency: float, cpu_per_session: float, cores: int
) -> float:
    """No runner can beat both: ``ceil(N/C)`` rounds of model latency, and the CLI's CPU
    work for every session spread perfectly over every core."""
    return max(math.ceil(tasks / concurrency) * latency, tasks * cpu_per_session / cores)
