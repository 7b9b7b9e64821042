"""``diffusers:`` models on Ray (``--executor ray``): one pipeline per GPU, requests spread
over them.

Each Ray actor loads the pipeline once (the local backend's own loading code) and makes one
image at a time; a request waits for a free actor. The image comes back as its encoded
bytes (the only way a picture made on another machine reaches this one) and the one local
process stores it, as for any provider. Without GPUs there is one actor per node (a CPU
pipeline already uses every core). An actor that dies takes its request with it: the
runner finds the request unknown and submits it again, as after a crash, on the restarted
actor.
"""

from __future__ import annotations

import asyncio
from typing import Any

from viewfinder.errors import BadInput, FatalRunError, ItemFailed, RequestUnknown
from viewfinder.providers.diffusers_local import DiffusersBackend
from viewfinder.providers.types import BackendSettings, GenerationResult, Submission


class PipelineWorker:
    """One Ray actor: a local diffusers backend whose pipeline loads on the first image."""

    def __init__(self, model_id: str) -> None:
        self.backend = DiffusersBackend(model_id, BackendSettings())

    def generate(self, body: dict[str, Any]) -> tuple[bytes, float, str]:
        data, seconds = self.backend._generate(body)
        return data, seconds, self.backend._device


class RayDiffusersBackend(DiffusersBackend):
    """The diffusers backend with its pipelines on Ray actors (see the module docstring)."""

    def __init__(self, model_id: str, settings: BackendSettings) -> None:
        super().__init__(model_id, settings)
        try:
            import ray
        except ImportError:
            raise BadInput("--executor ray needs Ray: pip install 'viewfinder[ray]'") from None
        if not ray.is_initialized():
            ray.init(address=settings.ray_address, log_to_driver=False, configure_logging=False)
        gpus = int(ray.cluster_resources().get("GPU", 0))
        nodes = sum(1 for node in ray.nodes() if node.get("Alive"))
        count = max(1, min(gpus or nodes, settings.concurrency))
        worker = ray.remote(num_gpus=1 if gpus else 0, max_restarts=-1)(PipelineWorker)
        self._actors: list[Any] = [worker.remote(model_id) for _ in range(count)]
        self._free: asyncio.Queue[Any] = asyncio.Queue()
        for actor in self._actors:
            self._free.put_nowait(actor)

    async def wait(self, submission: Submission) -> GenerationResult:
        import ray

        request, body = self._take(submission)
        actor = await self._free.get()
        try:
            data, seconds, device = await actor.generate.remote(body)
        except ray.exceptions.RayActorError:
            raise RequestUnknown("the Ray worker making this image stopped; the image is made again") from None
        except ray.exceptions.RayTaskError as exc:
            cause = getattr(exc, "cause", None)
            if isinstance(cause, FatalRunError):
                raise cause from None
            raise ItemFailed(f"the pipeline failed on a Ray worker: {cause or exc}") from None
        finally:
            self._free.put_nowait(actor)
        return self._result(request, body, data, seconds, device)

    async def aclose(self) -> None:
        import ray

        for actor in self._actors:
            ray.kill(actor)
        self._actors = []
