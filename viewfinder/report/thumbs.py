"""Thumbnails for the HTML gallery, written with Pillow into report/thumbs/ (by content hash)."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

from PIL import Image

THUMB_SIZE = 320
THUMB_DIR = "thumbs"
SMALL_SIDE = 2 * THUMB_SIZE  # an original this small (and light) is shown as it is
SMALL_BYTES = 120_000
WEB_FORMATS = {"jpeg", "jpg", "png", "webp", "gif"}


def needs_thumb(width: int, height: int, size_bytes: int, fmt: str) -> bool:
    """False when the original is already about thumbnail-sized and in a format browsers show."""
    small = max(width, height) <= SMALL_SIDE and size_bytes <= SMALL_BYTES
    return not (small and fmt.lower() in WEB_FORMATS)


def thumb_name(sha256: str) -> str:
    return f"{sha256}.jpg"


def make_thumb(source: Path, target: Path, size: int = THUMB_SIZE) -> bool:
    """Write a JPEG thumbnail of ``source`` (longest side ``size``); False when unreadable."""
    try:
        with Image.open(source) as image:
            scale = min(1.0, size / max(image.size))
            # JPEG: decode at the smallest DCT scale still covering the thumbnail (2-8x faster)
            image.draft("RGB", (round(image.width * scale), round(image.height * scale)))
            rgb = image.convert("RGB")
            rgb.thumbnail((size, size), Image.Resampling.BOX)  # area average: fast and sharp enough
            tmp = target.with_name(f".{target.name}.{os.getpid()}.tmp")
            rgb.save(tmp, "JPEG", quality=78, optimize=False)
        os.replace(tmp, target)
        return True
    except (OSError, ValueError, Image.DecompressionBombError):
        return False


def _make_batch(batch: list[tuple[str, str]]) -> list[bool]:
    return [make_thumb(Path(s), Path(t)) for s, t in batch]


def make_thumbs(
    items: Iterable[tuple[str, Path]],
    report_dir: Path,
    *,
    workers: int | None = None,
    advance: Callable[[int], None] = lambda n: None,
) -> dict[str, str]:
    """Thumbnails for ``(sha256, image path)`` pairs; returns sha256 -> path relative to report/.

    Existing thumbnails are kept (a file's name is its content hash, so it never goes
    stale). Images that cannot be read are left out: the page then shows the original.
    """
    out_dir = report_dir / THUMB_DIR
    out_dir.mkdir(parents=True, exist_ok=True)
    done: dict[str, str] = {}
    todo: list[tuple[str, str, str]] = []
    seen: set[str] = set()
    for sha, source in items:
        if sha in seen:
            continue
        seen.add(sha)
        target = out_dir / thumb_name(sha)
        if target.exists():
            done[sha] = f"{THUMB_DIR}/{target.name}"
            advance(1)
        else:
            todo.append((sha, str(source), str(target)))
    workers = workers or min(8, os.cpu_count() or 1)
    chunk = 64
    batches = [todo[i:i + chunk] for i in range(0, len(todo), chunk)]
    results: Iterable[list[bool]]
    if workers > 1 and len(todo) > chunk:
        with ProcessPoolExecutor(max_workers=workers) as pool:
            results = pool.map(_make_batch, [[(s, t) for _, s, t in b] for b in batches])
            for batch, oks in zip(batches, results, strict=True):
                _collect(batch, oks, done, advance)
    else:
        for batch in batches:
            _collect(batch, _make_batch([(s, t) for _, s, t in batch]), done, advance)
    return done


def _collect(
    batch: list[tuple[str, str, str]], oks: list[bool], done: dict[str, str], advance: Callable[[int], None]
) -> None:
    for (sha, _, target), ok in zip(batch, oks, strict=True):
        if ok:
            done[sha] = f"{THUMB_DIR}/{Path(target).name}"
    advance(len(batch))
