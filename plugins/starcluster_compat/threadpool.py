"""StarCluster's `self.pool` (`starcluster.threadpool`): run jobs on many nodes at once.

Plugins call `pool.simple_job(fn, args, jobid=…)` for each node, then `pool.wait(n)`; or
`pool.map(fn, items)`. Failures are collected and raised together, as StarCluster did.
"""

from __future__ import annotations

import builtins
from collections.abc import Callable, Iterable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

from sclust.plugins.starcluster_compat.exception import ThreadPoolException


class ThreadPool:
    def __init__(self, size: int = 20, disable_threads: bool = False) -> None:
        self.size = 1 if disable_threads else max(1, size)
        self._executor: ThreadPoolExecutor | None = None
        self._jobs: list[tuple[str, Future[Any]]] = []

    def _pool(self) -> ThreadPoolExecutor:
        if self._executor is None:
            self._executor = ThreadPoolExecutor(self.size, thread_name_prefix="plugin")
        return self._executor

    def simple_job(self, method: Callable[..., Any], args: Any = None,
                   kwargs: dict[str, Any] | None = None, jobid: Any = None) -> Future[Any]:
        if args is None:
            args = ()
        elif not isinstance(args, (tuple, list)):
            args = (args,)
        future = self._pool().submit(method, *args, **(kwargs or {}))
        self._jobs.append((str(jobid if jobid is not None else len(self._jobs)), future))
        return future

    def wait(self, numtasks: int | None = None, return_results: bool = True) -> list[Any]:
        """Every job submitted so far, finished; their results (failures raised together)."""
        jobs, self._jobs = self._jobs, []
        results: list[Any] = []
        failures: list[tuple[str, builtins.BaseException]] = []
        for jobid, future in jobs:
            try:
                results.append(future.result())
            except builtins.BaseException as error:  # noqa: BLE001 (reported together below)
                failures.append((jobid, error))
        if failures:
            message = "; ".join(f"{jobid}: {error}" for jobid, error in failures)
            raise ThreadPoolException(f"{len(failures)} of {len(jobs)} jobs failed: {message}",
                                      [error for _, error in failures])
        return results if return_results else []

    def map(self, fn: Callable[..., Any], *iterables: Iterable[Any]) -> list[Any]:
        for arguments in zip(*iterables, strict=False):
            self.simple_job(fn, tuple(arguments))
        return self.wait()

    def shutdown(self) -> None:
        if self._executor is not None:
            self._executor.shutdown(wait=True)
            self._executor = None


def get_thread_pool(size: int = 20, disable_threads: bool = False) -> ThreadPool:
    return ThreadPool(size, disable_threads)
