"""A local transformers VLM as the judge: ``--judge hf:<model id or path>``.

Loads ``AutoProcessor`` and ``AutoModelForImageTextToText`` (Qwen2-VL, SmolVLM, LLaVA,
Idefics, BLIP, ...) from the hub or a folder, on CUDA when there is one. Models with a chat
template get system and user turns; others get the text in one piece. There is no response
format here, so the schema is written into the prompt, decoding is greedy, and the reply is
validated like every other (JSON wrapped in prose is found; garbage is a recorded failure).
Calls run one at a time in a worker thread. Local calls cost nothing.
"""

from __future__ import annotations

import asyncio
import io
from typing import Any, cast

from jinja2 import TemplateError

from viewfinder.errors import BadInput
from viewfinder.providers.chat import (
    Conversation,
    JudgeBackend,
    Reply,
    Usage,
    schema_instruction,
)
from viewfinder.providers.device import pick_device


class LocalVLMBackend(JudgeBackend):
    """A judge running in this process."""

    max_concurrency = 1

    def __init__(self, model_id: str, *, device: str | None = None, max_new_tokens: int = 800) -> None:
        self.model_id = model_id
        self.name = f"hf:{model_id}"
        self.device = device
        self.max_new_tokens = max_new_tokens
        self._processor: Any = None
        self._model: Any = None
        self._load()

    def _load(self) -> None:
        try:
            import torch
            from transformers import AutoModelForImageTextToText, AutoProcessor
        except ImportError as exc:
            raise BadInput(
                f"--judge {self.name}: needs torch and transformers; install with pip install 'viewfinder[local]'"
            ) from exc
        device = self.device or pick_device()
        try:
            self._processor = AutoProcessor.from_pretrained(self.model_id)
            # the checkpoint's own dtype (bf16 for most VLMs) on a GPU; float32 on the CPU
            dtype = "auto" if device.startswith("cuda") else torch.float32
            model = AutoModelForImageTextToText.from_pretrained(self.model_id, dtype=dtype)
        except (OSError, ValueError) as exc:
            raise BadInput(
                f"--judge {self.name}: cannot load an image-text-to-text model from {self.model_id!r} ({exc}); "
                "give a hub id such as HuggingFaceTB/SmolVLM-256M-Instruct or a local folder"
            ) from None
        self._model = cast(Any, model).to(device).eval()  # transformers types .to() as a wrapped method

    async def complete(self, conversation: Conversation) -> Reply:
        return await asyncio.to_thread(self._generate, conversation)

    def prompt_text(self, conversation: Conversation) -> str:
        """The text the model sees: a chat template when the processor has one."""
        system = conversation.system + "\n\n" + schema_instruction(conversation.schema)
        if getattr(self._processor, "chat_template", None):
            later = [{"role": role, "content": [{"type": "text", "text": text}]} for role, text in conversation.turns]
            image = {"type": "image"}
            try:
                return self._chat(
                    [
                        {"role": "system", "content": [{"type": "text", "text": system}]},
                        {"role": "user", "content": [image, {"type": "text", "text": conversation.user}]},
                        *later,
                    ]
                )
            except TemplateError:  # templates without a system role: its text opens the user turn
                return self._chat(
                    [
                        {
                            "role": "user",
                            "content": [image, {"type": "text", "text": system + "\n\n" + conversation.user}],
                        },
                        *later,
                    ]
                )
        turns = "".join(f"\n\n{role}: {text}" for role, text in conversation.turns)
        return f"{system}\n\n{conversation.user}{turns}\n\nJSON:"

    def _chat(self, messages: list[dict[str, Any]]) -> str:
        return self._processor.apply_chat_template(messages, add_generation_prompt=True, tokenize=False)

    def _generate(self, conversation: Conversation) -> Reply:
        import torch
        from PIL import Image

        image = Image.open(io.BytesIO(conversation.image.data)).convert("RGB")
        inputs = self._processor(images=[image], text=self.prompt_text(conversation), return_tensors="pt")
        inputs = inputs.to(self._model.device, dtype=self._model.dtype)  # only float tensors are cast
        prompt_ids = inputs["input_ids"][0]
        with torch.inference_mode():
            output = self._model.generate(**inputs, max_new_tokens=self.max_new_tokens, do_sample=False)[0]
        output = output[_echoed(prompt_ids.tolist(), output.tolist()) :]
        text = self._processor.batch_decode(output.unsqueeze(0), skip_special_tokens=True)[0]
        return Reply(
            content=text,
            usage=Usage(prompt_tokens=int(prompt_ids.shape[0]), completion_tokens=int(output.shape[0])),
        )


def _echoed(prompt: list[int], output: list[int]) -> int:
    """How many leading output tokens repeat the prompt (its first token may differ: BLIP
    swaps in BOS and drops the last prompt token; encoder-decoder models echo nothing)."""
    length = 1 if output else 0
    while length < min(len(prompt), len(output)) and output[length] == prompt[length]:
        length += 1
    return length
