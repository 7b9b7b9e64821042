"""Local generation with a diffusers pipeline: ``diffusers:<hub id or folder>``.

No network once the weights are cached, and no cost. The pipeline is loaded on first use
(``DiffusionPipeline.from_pretrained``: FLUX.1 [schnell], SDXL, SD 1.5, ...), on CUDA when
available (bfloat16), else Apple MPS, else the CPU (float32). One image is made at a time;
other workers wait their turn. A request lives only in this process, so after a crash the
runner finds it unknown and submits it again, exactly like a request fal has forgotten.
"""

from __future__ import annotations

import asyncio
import io
import time
import uuid
from typing import Any

from viewfinder.errors import BadInput, FatalRunError, RequestUnknown
from viewfinder.providers.device import pick_device, pick_dtype
from viewfinder.providers.pricing import requested_size
from viewfinder.providers.types import (
    BackendSettings,
    GenerationRequest,
    GenerationResult,
    ImageRef,
    Submission,
)


class DiffusersBackend:
    """A local diffusers pipeline behind the backend protocol."""

    name = "diffusers"

    def __init__(self, model_id: str, settings: BackendSettings) -> None:
        self.model_id = model_id
        self.settings = settings
        self._pipeline: Any = None
        self._device = ""
        self._turn = asyncio.Lock()
        self._requests: dict[str, GenerationRequest] = {}

    @classmethod
    def from_env(cls, model_id: str, settings: BackendSettings) -> DiffusersBackend:
        try:
            import diffusers  # noqa: F401
            import torch  # noqa: F401
        except ImportError:
            raise BadInput(
                f"model 'diffusers:{model_id}' needs torch and diffusers: pip install 'viewfinder[local]' "
                "(install torch first for your CPU or GPU)"
            ) from None
        return cls(model_id, settings)

    def payload(self, request: GenerationRequest) -> dict[str, Any]:
        width, height = requested_size(request.params)
        body: dict[str, Any] = {
            "prompt": request.prompt,
            "width": width,
            "height": height,
            "num_inference_steps": int(request.params.get("num_inference_steps", 4)),
            "seed": request.seed,
            "output_format": request.params.get("output_format", "jpeg"),
        }
        if request.params.get("guidance_scale") is not None:
            body["guidance_scale"] = float(request.params["guidance_scale"])
        return body

    async def submit(self, request: GenerationRequest) -> Submission:
        request_id = f"local-{uuid.uuid4().hex}"
        self._requests[request_id] = request
        return Submission(request_id=request_id)

    async def wait(self, submission: Submission) -> GenerationResult:
        request, body = self._take(submission)
        async with self._turn:
            data, seconds = await asyncio.to_thread(self._generate, body)
        return self._result(request, body, data, seconds, self._device)

    def _take(self, submission: Submission) -> tuple[GenerationRequest, dict[str, Any]]:
        """The submitted request and its pipeline arguments (it is gone after a crash)."""
        request = self._requests.pop(submission.request_id, None)
        if request is None:
            raise RequestUnknown("a local request from an earlier process is gone")
        return request, self.payload(request)

    def _result(
        self, request: GenerationRequest, body: dict[str, Any], data: bytes, seconds: float, device: str
    ) -> GenerationResult:
        content_type = "image/png" if body["output_format"] == "png" else "image/jpeg"
        response = {
            "model": self.model_id,
            "device": device,
            "seed": request.seed,
            "timings": {"inference": round(seconds, 4)},
            "images": [{"width": body["width"], "height": body["height"], "content_type": content_type}],
        }
        image = ImageRef(url=None, content_type=content_type, width=body["width"], height=body["height"], data=data)
        return GenerationResult(images=[image], response=response, seed=request.seed)

    async def cancel(self, submission: Submission) -> bool:
        return self._requests.pop(submission.request_id, None) is not None

    def redact(self, text: str) -> str:
        return text

    async def aclose(self) -> None:
        self._pipeline = None

    # -- the pipeline -----------------------------------------------------------------------
    def _load(self) -> Any:
        if self._pipeline is None:
            from diffusers import DiffusionPipeline

            self._device = pick_device()
            dtype = pick_dtype(self._device)
            try:
                pipeline = DiffusionPipeline.from_pretrained(self.model_id, torch_dtype=dtype)
            except (OSError, ValueError) as exc:
                raise FatalRunError(f"model 'diffusers:{self.model_id}' does not load: {exc}") from None
            pipeline.set_progress_bar_config(disable=True)
            self._pipeline = pipeline.to(self._device)
        return self._pipeline

    def _generate(self, body: dict[str, Any]) -> tuple[bytes, float]:
        import torch

        pipeline = self._load()
        started = time.perf_counter()
        arguments: dict[str, Any] = {
            "prompt": body["prompt"],
            "width": body["width"],
            "height": body["height"],
            "num_inference_steps": body["num_inference_steps"],
            "generator": torch.Generator(device="cpu").manual_seed(body["seed"]),
        }
        if "guidance_scale" in body:
            arguments["guidance_scale"] = body["guidance_scale"]
        image = pipeline(**arguments).images[0]
        out = io.BytesIO()
        image.convert("RGB").save(out, format="PNG" if body["output_format"] == "png" else "JPEG", quality=95)
        return out.getvalue(), time.perf_counter() - started
