"""Turn a judge name (``auto``, ``openai:...``, ``fal:...``, ``hf:...``) into a backend."""

from __future__ import annotations

import os
from dataclasses import dataclass

from viewfinder.errors import BadInput
from viewfinder.providers.chat import JudgeBackend

MAX_TOKENS_ENV = "VIEWFINDER_JUDGE_MAX_TOKENS"
AUTO_OPENAI = "openai:gpt-4o-mini"
AUTO_FAL = "fal:google/gemini-2.5-flash"
HOW_TO_CONFIGURE = (
    "set OPENAI_API_KEY (OpenAI, or with OPENAI_BASE_URL any OpenAI-compatible server such as "
    "vLLM, Ollama or OpenRouter), or FAL_KEY; or pass --judge hf:<model id> for a local model; "
    "or leave the judge out with --analyzers pixels,clip,faces"
)


JUDGE_KINDS = ("openai", "fal", "hf")
KNOWN_JUDGES = "auto, openai:<model>, fal:<model> or hf:<model id or path>"


def check_judge_name(spec: str) -> None:
    """Bad input unless ``spec`` names a known kind of judge (nothing is loaded or called)."""
    spec = spec.strip()
    if spec == "auto":
        return
    kind, _, model = spec.partition(":")
    if not model:
        raise BadInput(f"--judge {spec!r} is not 'backend:model'; use {KNOWN_JUDGES}")
    if kind not in JUDGE_KINDS:
        raise BadInput(f"--judge {spec!r}: unknown judge backend {kind!r}; use {KNOWN_JUDGES}")


@dataclass(frozen=True)
class JudgeChoice:
    backend: JudgeBackend
    note: str  # which judge was picked and why, for the log


def choose_backend(spec: str, *, max_concurrency: int = 8) -> JudgeChoice:
    """The backend for ``spec``; BadInput naming the fix when it cannot be used."""
    spec = spec.strip()
    max_tokens = _max_tokens()
    if spec == "auto":
        if os.environ.get("OPENAI_API_KEY"):
            chosen = choose_backend(AUTO_OPENAI, max_concurrency=max_concurrency)
            return JudgeChoice(chosen.backend, f"judge: {AUTO_OPENAI} (auto: OPENAI_API_KEY is set)")
        if os.environ.get("FAL_KEY"):
            chosen = choose_backend(AUTO_FAL, max_concurrency=max_concurrency)
            return JudgeChoice(chosen.backend, f"judge: {AUTO_FAL} via fal (auto: FAL_KEY is set, OPENAI_API_KEY is not)")
        raise BadInput(f"analysis.judge = 'auto': no VLM judge is configured; {HOW_TO_CONFIGURE}")
    check_judge_name(spec)
    kind, _, model = spec.partition(":")
    if kind == "openai":
        if not os.environ.get("OPENAI_API_KEY") and not os.environ.get("OPENAI_BASE_URL"):
            raise BadInput(
                f"--judge {spec}: OPENAI_API_KEY is not set; export it, or set OPENAI_BASE_URL to a local "
                "OpenAI-compatible server"
            )
        from viewfinder.providers.openai_chat import OpenAIChatBackend

        backend: JudgeBackend = OpenAIChatBackend(model, max_concurrency=max_concurrency, max_tokens=max_tokens)
    elif kind == "fal":
        if not os.environ.get("FAL_KEY"):
            raise BadInput(f"--judge {spec}: FAL_KEY is not set; export your fal.ai key as FAL_KEY")
        from viewfinder.providers.fal_vlm import FalVisionBackend

        backend = FalVisionBackend(model, max_concurrency=max_concurrency, max_tokens=max_tokens)
    else:
        from viewfinder.providers.hf_local import LocalVLMBackend

        backend = LocalVLMBackend(model, max_new_tokens=max_tokens)
    return JudgeChoice(backend, f"judge: {backend.name}")


def _max_tokens() -> int:
    """The most tokens a judge may write per answer (``VIEWFINDER_JUDGE_MAX_TOKENS``, default 1200)."""
    return env_whole_number(MAX_TOKENS_ENV, 1200, 16, 32768, "tokens")


def env_whole_number(name: str, default: int, low: int, high: int, what: str) -> int:
    """The environment variable ``name`` (``default`` when unset) as a whole number of ``what``
    from ``low`` to ``high``; BadInput naming the variable and the range otherwise."""
    text = os.environ.get(name, str(default))
    try:
        value = int(text)
    except ValueError:
        value = low - 1
    if not low <= value <= high:
        raise BadInput(f"{name}={text!r}: give a whole number of {what} from {low} to {high}")
    return value
