"""Fetch generated images safely: size limit, content-type check, full Pillow decode under
a decompression-bomb guard, then storage by content hash.

Image hosts get no credentials: the download client is a separate one without the API key.
"""

from __future__ import annotations

import base64
import binascii
import io
import warnings
from dataclasses import dataclass
from pathlib import Path

import aiohttp
from PIL import Image

from viewfinder.errors import ItemFailed, RetryableError
from viewfinder.providers.http import TRANSPORT_ERRORS
from viewfinder.providers.retry import RETRYABLE_STATUS, retry_after
from viewfinder.store.files import make_durable, write_image

MAX_IMAGE_BYTES = 50 * 1024 * 1024
MAX_IMAGE_PIXELS = 40_000_000
FORMATS = {"JPEG": "jpg", "PNG": "png", "WEBP": "webp"}


@dataclass(frozen=True)
class VerifiedImage:
    """A decoded, checked image ready to store."""

    data: bytes
    format: str  # jpeg | png | webp
    ext: str
    width: int
    height: int


async def fetch_image(session: aiohttp.ClientSession, url: str, max_bytes: int = MAX_IMAGE_BYTES) -> bytes:
    """The bytes at ``url`` (http(s) or a data: URI), refusing non-images and oversize bodies."""
    if url.startswith("data:"):
        return _data_uri(url, max_bytes)
    if not url.startswith(("http://", "https://")):
        raise ItemFailed(f"image URL scheme not supported: {url[:40]!r}")
    try:
        async with session.get(url) as response:
            if response.status in RETRYABLE_STATUS:
                raise RetryableError(f"image download HTTP {response.status}", retry_after(response.headers))
            if response.status != 200:
                raise ItemFailed(f"image download failed with HTTP {response.status}")
            content_type = response.headers.get("Content-Type", "").split(";")[0].strip().lower()
            if not content_type.startswith("image/"):
                raise ItemFailed(f"image URL returned {content_type or 'no content type'}, not an image")
            if response.content_length is not None and response.content_length > max_bytes:
                raise ItemFailed(f"image is {response.content_length} bytes, over the {max_bytes}-byte limit")
            chunks: list[bytes] = []
            size = 0
            async for chunk in response.content.iter_any():
                size += len(chunk)
                if size > max_bytes:
                    raise ItemFailed(f"image is over the {max_bytes}-byte limit")
                chunks.append(chunk)
    except TRANSPORT_ERRORS as exc:  # timeouts, resets, truncated bodies
        raise RetryableError(f"image download: {type(exc).__name__}") from None
    return b"".join(chunks)


def verify_image(data: bytes, max_pixels: int = MAX_IMAGE_PIXELS) -> VerifiedImage:
    """Decode ``data`` fully with Pillow; reject bombs, truncation and unknown formats."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data)) as probe:
                width, height = probe.size
                fmt = probe.format or ""
                if width * height > max_pixels:
                    raise ItemFailed(
                        f"image is {width}x{height} ({width * height / 1e6:.0f} MP), over the "
                        f"{max_pixels / 1e6:.0f} MP decompression-bomb limit"
                    )
                if fmt not in FORMATS:
                    raise ItemFailed(f"image format {fmt or 'unknown'} is not one of {', '.join(FORMATS)}")
                if fmt == "PNG":  # of these formats only PNG's verify() checks more (chunk CRCs)
                    probe.verify()
                    with Image.open(io.BytesIO(data)) as image:  # verify() leaves probe unusable
                        image.load()
                else:
                    probe.load()
    except ItemFailed:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise ItemFailed(f"image refused by the decompression-bomb guard: {exc}") from None
    except (OSError, SyntaxError, ValueError) as exc:
        raise ItemFailed(f"image does not decode: {exc}") from None
    return VerifiedImage(data=data, format=fmt.lower(), ext=FORMATS[fmt], width=width, height=height)


@dataclass(frozen=True)
class StoredImage:
    """A checked image on disk under its content hash."""

    image: VerifiedImage
    sha256: str
    path: str  # relative to the run folder


def store_batch(
    run_dir: Path, jobs: list[list[bytes]], max_pixels: int = MAX_IMAGE_PIXELS
) -> list[list[StoredImage] | ItemFailed]:
    """Verify and store the images of several jobs, then flush them to disk once.

    One entry per job: its stored images, or the ItemFailed that refused one of them. Every
    returned file is durable (:func:`make_durable`) before this returns, so the caller may
    record it as done."""
    outcomes: list[list[StoredImage] | ItemFailed] = []
    written: list[str] = []
    for images in jobs:
        try:
            stored = []
            for data in images:
                image = verify_image(data, max_pixels)
                digest, rel = write_image(run_dir, image.data, image.ext, durable=False)
                stored.append(StoredImage(image, digest, rel))
        except ItemFailed as exc:
            outcomes.append(exc)
        else:
            outcomes.append(stored)
            written += [item.path for item in stored]
    if written:
        make_durable(run_dir, written)
    return outcomes


def _data_uri(url: str, max_bytes: int) -> bytes:
    header, _, payload = url.partition(",")
    if not header.startswith("data:image/") or ";base64" not in header:
        raise ItemFailed("data URI is not a base64 image")
    if len(payload) * 3 // 4 > max_bytes:
        raise ItemFailed(f"image is over the {max_bytes}-byte limit")
    try:
        return base64.b64decode(payload, validate=True)
    except (binascii.Error, ValueError):
        raise ItemFailed("data URI is not valid base64") from None
