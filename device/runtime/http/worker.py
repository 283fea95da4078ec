"""The engine's worker: one thread owns the llama.cpp context, requests wait in a bounded queue.

A llama.cpp context is not thread-safe, so every job runs on this one thread; when the queue is
full a request gets 503 + Retry-After instead of piling up.
"""

from __future__ import annotations

import contextlib
import queue
import threading
import time
from concurrent.futures import Future

from device.runtime.engine import DeadlineExceeded
from device.runtime.http.api import ApiError


class Worker:
    """One thread that owns the engine; jobs wait in a bounded queue."""

    def __init__(self, size: int):
        self.jobs: queue.Queue = queue.Queue(maxsize=size)
        self.busy = 0
        self.last_success = 0.0  # monotonic time of the last job the engine finished
        self._thread = threading.Thread(target=self._run, name="suksham-engine", daemon=True)
        self._thread.start()

    @property
    def depth(self) -> int:
        return self.jobs.qsize() + self.busy

    def submit(self, fn, deadline: float) -> Future:
        fut: Future = Future()
        try:
            self.jobs.put_nowait((fn, fut, deadline))
        except queue.Full:
            raise ApiError(503, "the server is busy; retry shortly", "server_busy", "queue_full") from None
        return fut

    def _run(self):
        while True:
            job = self.jobs.get()
            if job is None:
                return
            fn, fut, deadline = job
            if not fut.set_running_or_notify_cancel():
                continue
            if time.monotonic() > deadline:
                fut.set_exception(DeadlineExceeded("timed out while waiting in the queue"))
                continue
            self.busy = 1
            try:
                fut.set_result(fn(deadline))
                self.last_success = time.monotonic()
            except BaseException as exc:  # handed to the request; the worker lives on
                fut.set_exception(exc)
            finally:
                self.busy = 0

    def stop(self):
        with contextlib.suppress(queue.Full):
            self.jobs.put_nowait(None)
