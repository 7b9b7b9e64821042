"""The local transformers judge with a tiny random VLM built in the test (no download)."""

from __future__ import annotations

import asyncio
import io
from pathlib import Path

import numpy as np
import pytest
from rich.console import Console

from tests.tiny_models import build_tiny_blip_vlm
from viewfinder.analyze.runner import run_analysis
from viewfinder.judge.answer import response_schema
from viewfinder.judge.prompt import SYSTEM_PROMPT, user_text
from viewfinder.providers.chat import Conversation, EncodedImage
from viewfinder.providers.hf_local import LocalVLMBackend
from viewfinder.runfolder import open_run

CHAT_TEMPLATE = (
    "{% for m in messages %}<|{{ m.role }}|>{% for c in m.content %}{% if c.type == 'text' %}{{ c.text }}"
    "{% else %}<image>{% endif %}{% endfor %}\n{% endfor %}{% if add_generation_prompt %}<|assistant|>{% endif %}"
)


@pytest.fixture(scope="module")
def tiny_vlm(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_tiny_blip_vlm(tmp_path_factory.mktemp("vlm") / "tiny-blip")


def test_garbage_from_a_local_vlm_is_parsed_retried_and_recorded(tiny_vlm: Path, image_run, monkeypatch) -> None:
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.delenv("VIEWFINDER_JUDGE_PRICE", raising=False)
    monkeypatch.setenv("VIEWFINDER_JUDGE_MAX_TOKENS", "40")
    run_dir = image_run([np.full((40, 40, 3), 128, dtype=np.uint8)])
    store, study = open_run(run_dir)
    with store:
        summary = run_analysis(
            store, study, ["judge"], judge=f"hf:{tiny_vlm}", max_cost=None, console=Console(file=io.StringIO())
        )
        assert summary.failed == 1 and summary.analyzers[0].error is None
        error = store.analysis_runs("judge")[0].error
        ledger = store.ledger("judge")
    assert error.startswith("invalid answer after one retry")
    assert error is not None
    assert [row.usd for row in ledger] == [0.0, 0.0]
    first, second = (row.detail or {} for row in ledger)
    assert first["prompt_tokens"] > 500 and 0 < first["completion_tokens"] <= 40
    assert second["prompt_tokens"] > first["prompt_tokens"]  # the retry carries the answer and the error


def test_chat_template_models_get_system_and_user_turns(tiny_vlm: Path, tmp_path: Path) -> None:
    backend = LocalVLMBackend(str(tiny_vlm), max_new_tokens=12)
    backend._processor.chat_template = CHAT_TEMPLATE
    image_path = tmp_path / "x.png"
    from PIL import Image

    Image.new("RGB", (40, 30), (200, 10, 10)).save(image_path)
    conversation = Conversation(
        system=SYSTEM_PROMPT,
        user=user_text("a cafe", "cinematic"),
        image=EncodedImage.read(image_path),
        schema=response_schema(),
    )
    text = backend.prompt_text(conversation)
    assert text.startswith("<|system|>" + SYSTEM_PROMPT) and "<|user|><image>" in text
    assert text.endswith("</prompt_data><|assistant|>") and '"additionalProperties":false' in text
    reply = asyncio.run(backend.complete(conversation))
    assert isinstance(reply.content, str) and 0 < reply.usage.completion_tokens <= 12
    assert reply.usage.prompt_tokens > 500


def test_a_folder_without_a_vlm_is_bad_input(tmp_path: Path) -> None:
    from viewfinder.errors import BadInput

    with pytest.raises(BadInput, match="cannot load an image-text-to-text model"):
        LocalVLMBackend(str(tmp_path / "nothing-here"))


def test_templates_without_a_system_role_get_it_in_the_user_turn(tiny_vlm: Path, tmp_path: Path) -> None:
    backend = LocalVLMBackend(str(tiny_vlm), max_new_tokens=4)
    backend._processor.chat_template = (
        "{% if messages[0].role == 'system' %}{{ raise_exception('System role not supported') }}{% endif %}"
        + CHAT_TEMPLATE
    )
    from PIL import Image

    Image.new("RGB", (16, 16)).save(tmp_path / "y.png")
    conversation = Conversation(
        SYSTEM_PROMPT,
        user_text("a cafe", "cinematic"),
        EncodedImage.read(tmp_path / "y.png"),
        response_schema(),
        turns=(("assistant", "{}"), ("user", "fix it")),
    )
    text = backend.prompt_text(conversation)
    assert text.startswith("<|user|><image>" + SYSTEM_PROMPT) and "<prompt_data>" in text
    assert "<|assistant|>{}" in text and text.endswith("<|user|>fix it<|assistant|>")
