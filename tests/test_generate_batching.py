"""The batch that stores downloaded images: grouping, threads, errors, durable files."""

from __future__ import annotations

import asyncio
import io
import os
import threading
from pathlib import Path

import pytest
from PIL import Image

from viewfinder.errors import ItemFailed
from viewfinder.generate.batching import Batcher
from viewfinder.providers.download import store_batch
from viewfinder.store import files, sha256_hex


class Recorder:
    """prepare doubles each item (failing on negative ones); record keeps what it saw."""

    def __init__(self, gate: threading.Event | None = None) -> None:
        self.gate = gate
        self.batches: list[list[int]] = []
        self.threads: set[int] = set()
        self.recorded: list[tuple[list[int], list[int]]] = []

    def prepare(self, items: list[int]) -> list[int]:
        self.threads.add(threading.get_ident())
        self.batches.append(list(items))
        if self.gate is not None:
            self.gate.wait(5)
        if any(item < 0 for item in items):
            raise OSError("disk full")
        return [2 * item for item in items]

    def record(self, items: list[int], results: list[int]) -> None:
        self.recorded.append((list(items), list(results)))


def test_items_arriving_during_a_batch_form_the_next_one_prepared_off_the_loop():
    gate = threading.Event()
    recorder = Recorder(gate)

    async def main() -> None:
        batcher = Batcher(recorder.prepare, recorder.record)
        first = asyncio.create_task(batcher.put(1))
        await asyncio.sleep(0.05)  # batch [1] is now blocked in its worker thread
        rest = [asyncio.create_task(batcher.put(n)) for n in (2, 3, 4)]
        await asyncio.sleep(0.05)
        assert not first.done()
        gate.set()
        await asyncio.gather(first, *rest)
        assert batcher.batches == 2

    asyncio.run(main())
    assert recorder.batches == [[1], [2, 3, 4]]
    assert recorder.recorded == [([1], [2]), ([2, 3, 4], [4, 6, 8])]
    assert threading.get_ident() not in recorder.threads


def test_linger_gathers_items_put_close_together_into_one_batch():
    recorder = Recorder()

    async def main() -> None:
        batcher = Batcher(recorder.prepare, recorder.record, linger_s=0.05)
        first = asyncio.create_task(batcher.put(1))
        await asyncio.sleep(0.01)
        await asyncio.gather(first, batcher.put(2), batcher.put(3))

    asyncio.run(main())
    assert recorder.batches == [[1, 2, 3]]


def test_a_failed_batch_raises_in_its_own_waiters_only():
    recorder = Recorder()

    async def main() -> None:
        batcher = Batcher(recorder.prepare, recorder.record)
        outcomes = await asyncio.gather(batcher.put(1), batcher.put(-1), return_exceptions=True)
        assert [type(o) for o in outcomes] == [OSError, OSError]
        await batcher.put(5)  # the next batch works

    asyncio.run(main())
    assert recorder.recorded == [([5], [10])]


def jpeg(colour: tuple[int, int, int]) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (32, 24), colour).save(out, "JPEG")
    return out.getvalue()


@pytest.mark.parametrize("syncfs", [True, False], ids=["syncfs", "fsync-each"])
def test_store_batch_keeps_good_jobs_refuses_broken_ones_and_flushes(tmp_path: Path, monkeypatch, syncfs):
    synced: list[int] = []
    real_fsync = os.fsync
    monkeypatch.setattr(os, "fsync", lambda fd: (synced.append(fd), real_fsync(fd)))
    if not syncfs:
        monkeypatch.setattr(files, "_SYNCFS", None)
    elif files._SYNCFS is None:
        pytest.skip("no syncfs on this platform")
    red, blue = jpeg((200, 0, 0)), jpeg((0, 0, 200))

    outcomes = store_batch(tmp_path, [[red], [blue[:100]], [blue, red]])

    assert isinstance(outcomes[1], ItemFailed) and "does not decode" in str(outcomes[1])
    stored = [*outcomes[0], *outcomes[2]]
    assert [item.sha256 for item in stored] == [sha256_hex(red), sha256_hex(blue), sha256_hex(red)]
    for item in stored:
        assert (tmp_path / item.path).read_bytes() == item.image.data
        assert (item.image.width, item.image.height, item.image.format) == (32, 24, "jpeg")
    assert not list(tmp_path.rglob("*.tmp"))
    # one syncfs for the batch, or an fsync per distinct file and per folder holding one
    folders = {(tmp_path / item.path).parent for item in stored}
    assert len(synced) == (0 if syncfs else 2 + len(folders))


def test_a_full_batch_leaves_without_lingering_and_hurry_ends_the_wait():
    recorder = Recorder()

    async def main() -> tuple[float, float]:
        batcher = Batcher(recorder.prepare, recorder.record, linger_s=5.0, max_items=3)
        start = asyncio.get_running_loop().time()
        await asyncio.gather(*(batcher.put(n) for n in (1, 2, 3)))
        full = asyncio.get_running_loop().time() - start
        last = asyncio.create_task(batcher.put(4))
        await asyncio.sleep(0.05)
        assert not last.done()  # lingering for company
        batcher.hurry()
        await last
        return full, asyncio.get_running_loop().time() - start

    full, total = asyncio.run(main())
    assert full < 1.0 and total < 1.0
    assert recorder.batches == [[1, 2, 3], [4]]
