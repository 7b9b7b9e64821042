"""Content-addressed image files: ``images/<sha256[:2]>/<sha256>.<ext>``."""

from __future__ import annotations

import hashlib
import os
import uuid
from pathlib import Path


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def image_relpath(digest: str, ext: str) -> str:
    """The path of an image file relative to the run folder."""
    return f"images/{digest[:2]}/{digest}.{ext.lstrip('.').lower()}"


def write_image(run_dir: Path, data: bytes, ext: str) -> tuple[str, str]:
    """Store ``data`` by content hash (atomically, fsynced); return (sha256, relative path)."""
    digest = sha256_hex(data)
    rel = image_relpath(digest, ext)
    target = run_dir / rel
    if target.exists() and target.stat().st_size == len(data):
        return digest, rel
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(f".{target.name}.{uuid.uuid4().hex}.tmp")
    with open(tmp, "wb") as handle:
        handle.write(data)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(tmp, target)
    return digest, rel
