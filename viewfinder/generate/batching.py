"""Group per-item work into batches: one worker-thread hop and one commit for many items.

At 100+ images a second, a thread hop, an fsync and a database commit per image cost more
client CPU than the work itself; done once per batch they are nearly free. Batches size
themselves: whatever arrives while one batch is being processed forms the next, so a slow
stream of items waits at most ``linger_s`` for company, and a batch that reaches ``max_items``
goes at once. The waiting is the batcher's alone: a caller that must not be held (a request
slot) gives up its slot before awaiting :meth:`Batcher.put`.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from typing import Generic, TypeVar

T = TypeVar("T")
R = TypeVar("R")


class Batcher(Generic[T, R]):
    """Runs ``prepare(items)`` in a worker thread (blocking work: decoding, file writes, one
    disk flush), returning one result per item, then ``record(items, results)`` on the
    event loop (one database transaction). A batch starts ``linger_s`` after its first item
    arrives, or as soon as ``max_items`` wait, or at once after :meth:`hurry`. :meth:`put`
    returns once its item's batch is recorded, and raises what ``prepare`` or ``record``
    raised for that batch."""

    def __init__(
        self,
        prepare: Callable[[list[T]], Sequence[R]],
        record: Callable[[list[T], Sequence[R]], None],
        linger_s: float = 0.0,
        max_items: int = 256,
    ) -> None:
        self._prepare, self._record, self._linger_s, self._max_items = prepare, record, linger_s, max_items
        self._pending: list[tuple[T, asyncio.Future[None]]] = []
        self._flusher: asyncio.Task[None] | None = None
        self._go = asyncio.Event()  # set: the lingering batch leaves now
        self._hurried = False
        self.batches = 0

    async def put(self, item: T) -> None:
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._pending.append((item, future))
        if len(self._pending) >= self._max_items:
            self._go.set()
        if self._flusher is None:
            self._flusher = asyncio.create_task(self._flush())
        await future

    def hurry(self) -> None:
        """No more lingering from now on (nothing else is coming soon, e.g. the last items)."""
        self._hurried = True
        self._go.set()

    async def _flush(self) -> None:
        batch: list[tuple[T, asyncio.Future[None]]] = []
        try:
            while self._pending:
                if self._linger_s > 0 and not self._hurried and len(self._pending) < self._max_items:
                    self._go.clear()
                    try:
                        await asyncio.wait_for(self._go.wait(), self._linger_s)
                    except TimeoutError:
                        pass
                batch, self._pending = self._pending, []
                items = [item for item, _ in batch]
                self.batches += 1
                try:
                    results = await asyncio.to_thread(self._prepare, items)
                    if len(results) != len(items):
                        raise RuntimeError(f"prepare returned {len(results)} results for {len(items)} items")
                    self._record(items, results)
                except Exception as exc:
                    _settle(batch, exc)
                else:
                    _settle(batch, None)
        except BaseException:  # cancelled: nobody may wait forever
            for _, future in batch + self._pending:
                future.cancel()
            raise
        finally:
            self._flusher = None


def _settle(batch: list[tuple[T, asyncio.Future[None]]], error: Exception | None) -> None:
    for _, future in batch:
        if future.done():  # its waiter was cancelled
            continue
        if error is None:
            future.set_result(None)
        else:
            future.set_exception(error)
