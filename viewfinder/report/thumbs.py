"""The images the page carries inside itself: down-scaled JPEGs within a size budget.

``index.html`` embeds every image as a data URI so the one file works when copied alone. Each
image is at most :data:`EMBED_SIZE` px on its long side and :data:`EMBED_MAX_BYTES` of JPEG;
a large run shares :data:`PAGE_IMAGE_BUDGET` between its images (2,000 images get 12 kB each,
about 300 px; 10,000 get 2.4 kB, about 120 px), so the page opens in under 2 s (bench/report.py).
An original of at most :data:`AS_IS_SIDE` px that fits the budget is embedded unchanged. The
JPEGs are written with Pillow into report/thumbs/ (named by the image's content hash and the
budget, so a rebuild reuses them and they never go stale).
"""

from __future__ import annotations

import base64
import io
import os
from collections.abc import Callable, Iterable
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

from PIL import Image

EMBED_SIZE = 480
EMBED_MAX_BYTES = 150_000
PAGE_IMAGE_BUDGET = 24_000_000  # JPEG bytes for all images of one page (base64 adds a third)
AS_IS_SIDE = 640  # an original this small (and within the budget, in a web format) is embedded unchanged
MIN_SIZE = 96
BYTES_PER_PIXEL = 0.15
THUMB_DIR = "thumbs"
WEB_FORMATS = {"jpeg", "jpg", "png", "webp", "gif"}
MIME = {
    "jpeg": "image/jpeg",
    "jpg": "image/jpeg",
    "png": "image/png",
    "webp": "image/webp",
    "gif": "image/gif",
    "svg+xml": "image/svg+xml",
}


def image_budget(n_images: int) -> int:
    """JPEG bytes one embedded image may take when the page carries ``n_images``."""
    return min(EMBED_MAX_BYTES, PAGE_IMAGE_BUDGET // max(1, n_images))


def embeds_as_is(width: int, height: int, size_bytes: int, fmt: str, budget: int) -> bool:
    """True when the original is small enough to embed unchanged (a web format within the budget)."""
    return max(width, height) <= AS_IS_SIDE and size_bytes <= budget and fmt.lower() in WEB_FORMATS


def thumb_name(sha256: str, budget: int) -> str:
    return f"{sha256}-{budget // 1000}k.jpg"


def _encode(image: Image.Image, quality: int) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", quality=quality, optimize=False)
    return buffer.getvalue()


def shrink(image: Image.Image, budget: int, size: int = EMBED_SIZE) -> bytes:
    """``image`` as a JPEG of at most ``size`` px and ``budget`` bytes (smaller and coarser as needed;
    a budget under about 2 kB, more than 12,000 images on one page, may not be met at 96 px)."""
    image = image.copy()
    # first guess from the budget (photos take about BYTES_PER_PIXEL at quality 80): one encode, mostly
    guess = int((budget / BYTES_PER_PIXEL * max(image.size) / min(image.size)) ** 0.5)
    side = max(MIN_SIZE, min(size, guess))
    image.thumbnail((side, side), Image.Resampling.BOX)  # area average: fast and sharp enough
    data = _encode(image, 80)
    while len(data) > budget and max(image.size) > MIN_SIZE:
        factor = max(0.5, min(0.9, (budget / len(data)) ** 0.5 * 0.95))
        side = max(MIN_SIZE, int(max(image.size) * factor))
        image.thumbnail((side, side), Image.Resampling.BOX)
        data = _encode(image, 70)
    for quality in (55, 40, 25):  # at the smallest size: coarser, until it fits
        if len(data) <= budget:
            break
        data = _encode(image, quality)
    return data


def make_thumb(source: Path, target: Path, budget: int) -> bool:
    """Write ``source`` as an embeddable JPEG within ``budget`` bytes; False when unreadable."""
    try:
        with Image.open(source) as image:
            scale = min(1.0, EMBED_SIZE / max(image.size))
            # JPEG: decode at the smallest DCT scale still covering the size (2-8x faster)
            image.draft("RGB", (round(image.width * scale), round(image.height * scale)))
            data = shrink(image.convert("RGB"), budget)
        tmp = target.with_name(f".{target.name}.{os.getpid()}.tmp")
        tmp.write_bytes(data)
        os.replace(tmp, target)
        return True
    except (OSError, ValueError, Image.DecompressionBombError):
        return False


def _make_batch(batch: list[tuple[str, str, int]]) -> list[bool]:
    return [make_thumb(Path(s), Path(t), budget) for s, t, budget in batch]


def make_thumbs(
    items: Iterable[tuple[str, Path]],
    report_dir: Path,
    budget: int,
    *,
    workers: int | None = None,
    advance: Callable[[int], None] = lambda n: None,
) -> dict[str, str]:
    """Embeddable JPEGs for ``(sha256, image path)`` pairs; returns sha256 -> path relative to report/.

    Existing files are kept. Images that cannot be read are left out: their cards then say so.
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
        target = out_dir / thumb_name(sha, budget)
        if target.exists():
            done[sha] = f"{THUMB_DIR}/{target.name}"
            advance(1)
        else:
            todo.append((sha, str(source), str(target)))
    workers = workers or min(8, os.cpu_count() or 1)
    chunk = 64
    batches = [todo[i : i + chunk] for i in range(0, len(todo), chunk)]
    if workers > 1 and len(todo) > chunk:
        with ProcessPoolExecutor(max_workers=workers) as pool:
            results = pool.map(_make_batch, [[(s, t, budget) for _, s, t in b] for b in batches])
            for batch, oks in zip(batches, results, strict=True):
                _collect(batch, oks, done, advance)
    else:
        for batch in batches:
            _collect(batch, _make_batch([(s, t, budget) for _, s, t in batch]), done, advance)
    return done


def _collect(
    batch: list[tuple[str, str, str]], oks: list[bool], done: dict[str, str], advance: Callable[[int], None]
) -> None:
    for (sha, _, target), ok in zip(batch, oks, strict=True):
        if ok:
            done[sha] = f"{THUMB_DIR}/{Path(target).name}"
    advance(len(batch))


def data_uri(path: Path, fmt: str = "jpeg") -> str:
    """The file at ``path`` as a data URI (``fmt``: its image format)."""
    return f"data:{MIME.get(fmt.lower(), 'image/jpeg')};base64," + base64.b64encode(path.read_bytes()).decode("ascii")
