"""Micro-batching: concurrent requests share one model call.

Requests wait in a bounded ``asyncio.Queue``. One worker task takes the first waiting request,
keeps collecting for ``max_wait_s`` (or until ``max_docs`` documents), then runs the whole group
through the model in a thread, so the event loop keeps accepting requests meanwhile, and hands
each request its own slice of the results. While the model runs, new requests pile up in the
queue and form the next group: under load, batches grow by themselves; when idle, a lone request
waits at most ``max_wait_s``. A full queue is refused at once (``QueueFull`` → HTTP 503) rather
than letting latency grow without bound.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

from training.documents import Document

log = logging.getLogger(__name__)


class QueueFull(RuntimeError):
    """More requests are waiting than the queue holds."""


@dataclass
class _Request:
    docs: list[Document]
    future: asyncio.Future = field(repr=False)


@dataclass
class BatcherStats:
    requests: int = 0
    documents: int = 0
    model_calls: int = 0
    rejected: int = 0
    running: int = 0  # requests in the model call under way


class MicroBatcher:
    def __init__(
        self,
        run: Callable[[list[Document]], list],
        max_wait_s: float = 0.005,
        max_docs: int = 64,
        max_queue: int = 256,
    ) -> None:
        self._run = run  # documents → one result per document, in order; called in a worker thread
        self.max_wait_s = max_wait_s
        self.max_docs = max_docs
        self.max_queue = max_queue
        self.stats = BatcherStats()
        self._queue: asyncio.Queue[_Request] | None = None
        self._task: asyncio.Task | None = None
        # One thread: the model is one resource; a second thread would only queue on its lock.
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="model")

    @property
    def waiting(self) -> int:
        return self._queue.qsize() if self._queue is not None else 0

    async def start(self) -> None:
        self._queue = asyncio.Queue(self.max_queue)
        self._task = asyncio.create_task(self._worker(), name="micro-batcher")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        self._executor.shutdown(wait=True)

    async def submit(self, docs: list[Document]) -> list:
        if self._queue is None:
            raise RuntimeError("MicroBatcher.start() has not run")
        request = _Request(docs, asyncio.get_running_loop().create_future())
        try:
            self._queue.put_nowait(request)
        except asyncio.QueueFull:
            self.stats.rejected += 1
            raise QueueFull(f"{self.max_queue} requests already waiting") from None
        return await request.future

    async def _collect(self) -> list[_Request]:
        assert self._queue is not None
        group = [await self._queue.get()]
        size = len(group[0].docs)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.max_wait_s
        while size < self.max_docs:
            remaining = deadline - loop.time()
            if remaining <= 0:
                break
            try:
                request = await asyncio.wait_for(self._queue.get(), remaining)
            except TimeoutError:
                break
            group.append(request)
            size += len(request.docs)
        return group

    async def _worker(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            group = await self._collect()
            live = [r for r in group if not r.future.done()]  # a client that gave up is not computed
            if not live:
                continue
            docs = [doc for r in live for doc in r.docs]
            self.stats.running = len(live)
            try:
                results = await loop.run_in_executor(self._executor, self._run, docs)
            except Exception as exc:  # one bad group must not stop the worker; each caller gets the error
                log.exception("model call failed for %d request(s)", len(live))
                for r in live:
                    if not r.future.done():
                        r.future.set_exception(exc)
                continue
            finally:
                self.stats.running = 0
            self.stats.model_calls += 1
            self.stats.requests += len(live)
            self.stats.documents += len(docs)
            start = 0
            for r in live:
                part = results[start : start + len(r.docs)]
                start += len(r.docs)
                if not r.future.done():
                    r.future.set_result(part)
