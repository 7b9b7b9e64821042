"""The run-folder lock: one process writes to a run folder at a time.

An advisory ``flock`` on ``<run folder>/viewfinder.lock``. The kernel frees it when the holding
process ends in any way (SIGKILL included), so a crash never leaves a folder locked and there is
no stale-lock cleanup. The holder writes its PID and command line into the file, so that a second
writer can say who holds the folder. Readers (status, export, report of a scored run) take no lock:
SQLite in WAL mode lets them read while the holder writes. Within one process the lock is
re-entrant (stores opened one inside another share it).
"""

from __future__ import annotations

import fcntl
import json
import os
import shlex
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from viewfinder.errors import BadInput

LOCK_NAME = "viewfinder.lock"
_HOLDER_WAIT_S = 0.5  # a holder that has just taken the lock writes its name within this


@dataclass
class _Held:
    file: IO[str]
    count: int


_held: dict[Path, _Held] = {}
_guard = threading.Lock()


def acquire(run_dir: Path) -> Path:
    """Take the write lock of ``run_dir`` (an existing folder) or raise :class:`BadInput` naming the
    PID and command that hold it; returns the key to :func:`release` it with."""
    key = run_dir.resolve()
    with _guard:
        held = _held.get(key)
        if held is not None:
            held.count += 1
            return key
        file = open(key / LOCK_NAME, "a+", encoding="utf-8")  # held open until release()
        try:
            fcntl.flock(file.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            file.close()
            raise BadInput(
                f"{run_dir}: another process is writing to this run folder ({holder(run_dir)}); "
                "wait for it to finish or stop it, then run this again. Reading works meanwhile: "
                "status, export, and report of a scored run"
            ) from None
        except BaseException:
            file.close()
            raise
        file.seek(0)
        file.truncate()
        file.write(json.dumps({"pid": os.getpid(), "command": shlex.join(sys.argv)}) + "\n")
        file.flush()
        _held[key] = _Held(file, 1)
        return key


def release(key: Path) -> None:
    """Give back one :func:`acquire`; the last one empties the file and frees the lock."""
    with _guard:
        held = _held.get(key)
        if held is None:
            return
        held.count -= 1
        if held.count:
            return
        del _held[key]
        try:
            held.file.seek(0)
            held.file.truncate()
        finally:
            held.file.close()  # closing the descriptor frees the flock


def holder(run_dir: Path) -> str:
    """Who holds the lock of ``run_dir``, as written in its lock file ("PID 12 running: ...")."""
    path = run_dir / LOCK_NAME
    deadline = time.monotonic() + _HOLDER_WAIT_S
    while True:
        try:
            info = json.loads(path.read_text(encoding="utf-8"))
            return f"PID {int(info['pid'])} running: {info['command']}"
        except (OSError, ValueError, KeyError, TypeError):
            if time.monotonic() >= deadline:
                return f"PID unknown: {path} names no holder"
            time.sleep(0.02)
