"""Timing helpers shared by the scripts in this folder that Benchmarks/compare runs.

They time the way `vault bench` does (and sdk_e2e.py, which predates this module): a sequential loop
for a number of seconds after an unmeasured warm-up, the clock read between calls, CPU time from
getrusage for the whole process, one line per measurement:

    SOURCE NAME OPS_PER_SECOND CPU_MICROSECONDS_PER_OPERATION
"""

from __future__ import annotations

import resource
import sys
import time
from typing import Callable


def cpu_microseconds() -> float:
    """User plus system time of this process so far (every thread), in microseconds."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return (usage.ru_utime + usage.ru_stime) * 1e6


def peak_rss_kib() -> int:
    """The largest resident set of this process so far (ru_maxrss), in KiB."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak // 1024 if sys.platform == "darwin" else peak


def text(size: int) -> str:
    """ASCII text of exactly `size` bytes, the same text `vault bench` uses."""
    return ("4242 4242 4242 4242 " * (size // 20 + 1))[:size]


def call_repeatedly(operation: Callable[[], object], seconds: float) -> int:
    """The calls completed in `seconds`."""
    deadline = time.perf_counter() + seconds
    completed = 0
    while time.perf_counter() < deadline:
        operation()
        completed += 1
    return completed


def call_repeatedly_in_threads(operation: Callable[[], object], seconds: float, threads: int) -> int:
    """The calls completed in `seconds` by `threads` threads each calling in a loop."""
    if threads == 1:
        return call_repeatedly(operation, seconds)
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(max_workers=threads) as pool:
        return sum(pool.map(lambda _: call_repeatedly(operation, seconds), range(threads)))


def measure(
    source: str, name: str, operation: Callable[[], object], seconds: float, warmup: float, threads: int = 1
) -> None:
    """Warms up, times `operation` for `seconds` (in `threads` threads) and prints its line."""
    call_repeatedly_in_threads(operation, warmup, threads)
    cpu_before = cpu_microseconds()
    start = time.perf_counter()
    operations = call_repeatedly_in_threads(operation, seconds, threads)
    elapsed = time.perf_counter() - start
    cpu = cpu_microseconds() - cpu_before
    print(f"{source} {name} {operations / elapsed:.1f} {cpu / max(operations, 1):.1f}", flush=True)


def sdk_client_from_environment():
    """The official SDK's client for the server in WORKOS_BASE_URL, or None (with a message) when
    WORKOS_API_KEY or WORKOS_BASE_URL is missing. Retries off and a 10 s timeout, as in `vault bench`:
    a failing server stops the run instead of slowing it down."""
    import os

    from workos import WorkOSClient

    api_key = os.environ.get("WORKOS_API_KEY")
    base_url = os.environ.get("WORKOS_BASE_URL")
    if not api_key or not base_url:
        print("set WORKOS_API_KEY and WORKOS_BASE_URL to the server to measure", file=sys.stderr)
        return None
    return WorkOSClient(api_key=api_key, client_id="client_test", base_url=base_url, request_timeout=10, max_retries=0)
