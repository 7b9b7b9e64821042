"""Content-addressed image files: ``images/<sha256[:2]>/<sha256>.<ext>``."""

from __future__ import annotations

import ctypes
import hashlib
import os
import sys
import uuid
from collections.abc import Callable, Iterable
from pathlib import Path


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def image_relpath(digest: str, ext: str) -> str:
    """The path of an image file relative to the run folder."""
    return f"images/{digest[:2]}/{digest}.{ext.lstrip('.').lower()}"


def write_image(run_dir: Path, data: bytes, ext: str, *, durable: bool = True) -> tuple[str, str]:
    """Store ``data`` by content hash (atomically, fsynced); return (sha256, relative path).

    ``durable=False`` skips the fsync: the caller must then call :func:`make_durable` on the
    written paths before recording them anywhere (so a batch shares one flush)."""
    digest = sha256_hex(data)
    rel = image_relpath(digest, ext)
    target = run_dir / rel
    try:
        if os.stat(target).st_size == len(data):
            return digest, rel
    except FileNotFoundError:
        pass
    tmp = target.with_name(f".{target.name}.{uuid.uuid4().hex}.tmp")
    try:
        handle = open(tmp, "wb")
    except FileNotFoundError:  # the first file of its hash-prefix folder
        target.parent.mkdir(parents=True, exist_ok=True)
        handle = open(tmp, "wb")
    with handle:
        handle.write(data)
        if durable:
            handle.flush()
            os.fsync(handle.fileno())
    os.replace(tmp, target)
    return digest, rel


def make_durable(run_dir: Path, rels: Iterable[str]) -> None:
    """Flush files written with ``durable=False`` and their folder entries to disk.

    Linux: one ``syncfs(2)`` of the run folder's file system (one journal commit for the
    whole batch, and it covers the renames, which a per-file fsync does not); elsewhere an
    fsync per file and per folder."""
    if _SYNCFS is not None:
        fd = os.open(run_dir, os.O_RDONLY)
        try:
            if _SYNCFS(fd) == 0:
                return
        finally:
            os.close(fd)
    paths = [run_dir / rel for rel in dict.fromkeys(rels)]
    for path in paths:
        _fsync(path)
    for folder in dict.fromkeys(path.parent for path in paths):
        try:
            _fsync(folder)
        except PermissionError:  # Windows opens no folders (and NTFS journals renames)
            pass


def _fsync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _syncfs() -> Callable[[int], int] | None:
    """libc's syncfs (Linux), or None."""
    if not sys.platform.startswith("linux"):
        return None
    try:
        return ctypes.CDLL(None, use_errno=True).syncfs
    except (OSError, AttributeError):
        return None


_SYNCFS = _syncfs()
