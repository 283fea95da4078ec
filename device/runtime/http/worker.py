"""The engine's worker: one thread owns the llama.cpp context, requests wait in a bounded queue.

A llama.cpp context is not thread-safe, so every job runs on this one thread; when the queue is
full a request gets 503 + Retry-After instead of piling up. A job whose request went away (timed
out or disconnected: `Job.cancel()`) is skipped if it has not started, and stops within a prompt
chunk or a token if it has (`engine.cancel_scope`).
"""

from __future__ import annotations

import contextlib
import queue
import threading
import time
from concurrent.futures import Future

from device.runtime.engine import Cancelled, DeadlineExceeded, cancel_scope
from device.runtime.http.api import ApiError


class Job(Future):
    """A job's future; `cancel()` also stops it while it runs."""

    def __init__(self):
        super().__init__()
        self.stop = threading.Event()

    def cancel(self) -> bool:
        self.stop.set()
        return super().cancel()


class Worker:
    """One thread that owns the engine; jobs wait in a bounded queue."""

    def __init__(self, size: int):
        self.jobs: queue.Queue = queue.Queue(maxsize=size)
        self.busy = 0
        self.last_success = 0.0  # monotonic time of the last job the engine finished
        self.progress_at = time.monotonic()  # a job finished, well or not: the watchdog's proof of progress
        self._thread = threading.Thread(target=self._run, name="suksham-engine", daemon=True)
        self._thread.start()

    @property
    def depth(self) -> int:
        return self.jobs.qsize() + self.busy

    def submit(self, fn, deadline: float) -> Job:
        fut = Job()
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
                continue  # cancelled while it waited: it never touches the engine
            if fut.stop.is_set():
                fut.set_exception(Cancelled("the request went away while waiting in the queue"))
                continue
            if time.monotonic() > deadline:
                fut.set_exception(DeadlineExceeded("timed out while waiting in the queue"))
                continue
            self.busy = 1
            try:
                with cancel_scope(fut.stop):
                    result = fn(deadline)
                fut.set_result(result)
                self.last_success = time.monotonic()
            except BaseException as exc:  # handed to the request; the worker lives on
                fut.set_exception(exc)
            finally:
                self.busy = 0
                self.progress_at = time.monotonic()

    def stop(self):
        with contextlib.suppress(queue.Full):
            self.jobs.put_nowait(None)
