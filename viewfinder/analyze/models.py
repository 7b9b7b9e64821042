"""Analyzer model weights: hub ids or local paths, loading with clear errors, pre-download.

A model reference is either a local path (a ``from_pretrained`` folder, or a weights file)
or a Hugging Face hub id. Weights come from the Hugging Face cache (``HF_HUB_CACHE``,
by default ``~/.cache/huggingface/hub``); ``viewfinder models fetch`` fills it on a
machine with internet so later runs work offline (``HF_HUB_OFFLINE=1``).
"""

from __future__ import annotations

import os
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from rich.console import Console

from viewfinder.errors import BadInput, ViewfinderError

if TYPE_CHECKING:
    import torch

    from viewfinder.study.schema import Analysis

T = TypeVar("T")

# The LAION improved aesthetic predictor (christophschuhmann/improved-aesthetic-predictor),
# an MLP on L2-normalised CLIP ViT-L/14 image embeddings, mirrored on the hub as a .pth file.
AESTHETIC_ALIASES: dict[str, tuple[str, str]] = {
    "laion/sac+logos+ava1-l14-linearMSE": (
        "camenduru/improved-aesthetic-predictor",
        "sac+logos+ava1-l14-linearMSE.pth",
    ),
}
WEIGHT_SUFFIXES = (".pth", ".pt", ".safetensors", ".bin")
CLIP_PATTERNS = ["*.json", "*.txt", "*.safetensors"]


class ModelUnavailable(ViewfinderError):
    """Weights that are neither cached nor downloadable; the message names model and cache."""


def hub_cache_dir() -> Path:
    from huggingface_hub import constants

    return Path(constants.HF_HUB_CACHE)


def is_local(ref: str) -> bool:
    return Path(ref).expanduser().exists()


def _unavailable(kind: str, ref: str, setting: str, exc: BaseException, alternative: str) -> ModelUnavailable:
    reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    return ModelUnavailable(
        f"{kind} {ref!r} could not be loaded: it is not in the Hugging Face cache ({hub_cache_dir()}) "
        f"and could not be downloaded ({reason}). Run 'viewfinder models fetch --model {ref}' on a machine "
        f"with internet (then copy that cache here), or "
        f"{alternative or f'set [analysis] {setting} to a local folder or file'}."
    )


def load_model(
    kind: str,
    ref: str,
    setting: str,
    load: Callable[[], T],
    *,
    errors: tuple[type[Exception], ...] = (),
    alternative: str = "",
) -> T:
    """Run ``load`` for the ``[analysis] setting = ref``: a missing path or a local folder that
    does not load (OSError, or one of ``errors``) is :class:`BadInput`, a hub model neither
    cached nor downloadable is :class:`ModelUnavailable` (``alternative``: what else to set)."""
    from huggingface_hub.errors import EntryNotFoundError

    if ref.startswith((".", "/", "~")) and not is_local(ref):
        raise BadInput(f"[analysis] {setting} = {ref!r}: no such file or folder; give an existing path or a hub id")
    caught: tuple[type[Exception], ...] = (OSError, EntryNotFoundError, *errors)
    try:
        return load()
    except caught as exc:
        if is_local(ref):
            raise BadInput(
                f"[analysis] {setting} = {ref!r}: the folder is not a usable {kind} ({exc}); "
                "give a folder saved with save_pretrained"
            ) from None
        raise _unavailable(kind, ref, setting, exc, alternative) from None


def load_clip(ref: str, device: str, dtype: torch.dtype) -> tuple[Any, Any, Any]:
    """``(CLIPModel, tokenizer, image processor)`` from a hub id or a local folder, on ``device``."""

    def load() -> tuple[Any, Any, Any]:
        from transformers import AutoTokenizer, CLIPImageProcessorPil, CLIPModel

        return cache_first(
            lambda local_only: (
                CLIPModel.from_pretrained(ref, dtype=dtype, local_files_only=local_only),
                AutoTokenizer.from_pretrained(ref, local_files_only=local_only),
                CLIPImageProcessorPil.from_pretrained(ref, local_files_only=local_only),
            )
        )

    model, tokenizer, processor = load_model("CLIP model", ref, "clip_model", load)
    return model.to(device).eval(), tokenizer, processor


def cache_first(load: Callable[[bool], T]) -> T:
    """``load(local_files_only=True)``; only when something is not cached, ask the hub.

    A cached model then loads without any network request (fast, and the same weights
    every run); a missing one is downloaded once. A hub that cannot be reached is found out
    by one quick probe, not by the hub client's half a minute of retries per file.
    """
    try:
        return load(True)
    except OSError:
        unreachable = hub_unreachable()
        if unreachable:
            raise OSError(unreachable) from None
        return load(False)


HUB_PROBE_TIMEOUT_S = 5.0
_hub_probes: dict[str, str | None] = {}  # endpoint -> why it cannot be reached (None: it answered)


def hub_endpoint() -> str:
    """The hub the client talks to: ``HF_ENDPOINT``, else huggingface.co."""
    from huggingface_hub import constants

    return (os.environ.get("HF_ENDPOINT") or constants.ENDPOINT).rstrip("/")


def hub_unreachable() -> str | None:
    """Why the hub cannot be reached, or None when it answers (any HTTP status) or offline
    mode is on. Asked once per process: later models get the same answer at once."""
    if os.environ.get("HF_HUB_OFFLINE", "").strip().lower() in {"1", "true", "yes", "on"}:
        return None
    endpoint = hub_endpoint()
    if endpoint not in _hub_probes:
        _hub_probes[endpoint] = _probe(endpoint)
    return _hub_probes[endpoint]


def _probe(endpoint: str) -> str | None:
    """One HEAD request (through any configured proxy); a transport failure says why."""
    try:
        with urllib.request.urlopen(urllib.request.Request(endpoint, method="HEAD"), timeout=HUB_PROBE_TIMEOUT_S):
            return None
    except urllib.error.HTTPError:
        return None  # it answered: the hub is there
    except (urllib.error.URLError, OSError, ValueError) as exc:
        reason = getattr(exc, "reason", exc)
        return (
            f"the Hugging Face hub ({endpoint}) cannot be reached ({reason}); "
            "asked once, not retried (set HF_HUB_OFFLINE=1 to skip the question)"
        )


def aesthetic_location(ref: str) -> Path | tuple[str, str]:
    """A local weights file, or ``(hub repo, filename)`` for an aesthetic predictor reference.

    Accepts a file, a folder holding one weights file, a known alias (the default
    ``laion/sac+logos+ava1-l14-linearMSE``) or ``owner/repo/path/to/file.pth``.
    """
    path = Path(ref).expanduser()
    if path.is_file():
        return path
    if path.is_dir():
        files = sorted(p for p in path.iterdir() if p.suffix in WEIGHT_SUFFIXES)
        if len(files) != 1:
            raise BadInput(
                f"[analysis] aesthetic_model = {ref!r}: expected one weights file ({', '.join(WEIGHT_SUFFIXES)}) "
                f"in the folder, found {len(files)}; name the file itself"
            )
        return files[0]
    if ref in AESTHETIC_ALIASES:
        return AESTHETIC_ALIASES[ref]
    parts = ref.split("/")
    if len(parts) >= 3 and parts[-1].endswith(WEIGHT_SUFFIXES):
        return "/".join(parts[:2]), "/".join(parts[2:])
    raise BadInput(
        f"[analysis] aesthetic_model = {ref!r}: not a file, a folder, a known predictor "
        f"({', '.join(AESTHETIC_ALIASES)}) or 'owner/repo/file.pth'; give one of those"
    )


def aesthetic_file(ref: str) -> Path:
    """The local weights file of an aesthetic predictor, downloaded into the hub cache if needed."""
    location = aesthetic_location(ref)
    if isinstance(location, Path):
        return location

    def load() -> Path:
        from huggingface_hub import hf_hub_download

        repo, filename = location
        return Path(cache_first(lambda local_only: hf_hub_download(repo, filename, local_files_only=local_only)))

    return load_model("aesthetic predictor", ref, "aesthetic_model", load)


def required_models(analysis: Analysis) -> list[str]:
    """The hub models a study's analyzers load (local paths need no download)."""
    refs = [analysis.clip_model, analysis.aesthetic_model, analysis.expression_model]
    return [ref for ref in refs if ref and ref.lower() != "none" and not is_local(ref)]


def fetch_model(ref: str) -> Path:
    """Download one model into the hub cache; return its local path."""
    if is_local(ref):
        return Path(ref).expanduser()
    if ref in AESTHETIC_ALIASES or ref.endswith(WEIGHT_SUFFIXES):
        return aesthetic_file(ref)

    def load() -> Path:
        from huggingface_hub import snapshot_download

        folder = Path(snapshot_download(ref, allow_patterns=CLIP_PATTERNS))
        if not any(folder.glob("*.safetensors")):  # older repos only have PyTorch pickles
            folder = Path(snapshot_download(ref, allow_patterns=[*CLIP_PATTERNS, "*.bin"]))
        return folder

    return load_model("model", ref, "clip_model", load)


def fetch_models(refs: list[str], console: Console | None = None) -> Iterator[tuple[str, Path]]:
    """Download every model in ``refs`` (each once), yielding ``(ref, local path)`` as each lands."""
    console = console or Console(stderr=True)
    for ref in dict.fromkeys(refs):
        with console.status(f"fetching {ref} into {hub_cache_dir()}"):
            path = fetch_model(ref)
        yield ref, path
