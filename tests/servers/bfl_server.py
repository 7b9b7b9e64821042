"""A local server that speaks the Black Forest Labs API.

``POST /v1/{model}`` with header ``x-key`` answers ``{"id", "polling_url", "cost",
"input_mp", "output_mp"}``; ``GET /v1/get_result?id=`` answers ``Pending`` (with
``progress``) until ``latency_s`` has passed, then ``Ready`` with ``result.sample``, a
signed-looking URL of an image served here. Unknown ids answer ``Task not found``.
Width and height must be multiples of 16 of at most 4 megapixels (422 FastAPI detail
otherwise). Fault kinds: ``moderate`` (the request ends ``Request Moderated``),
``moderate_output`` (``Content Moderated``), ``error`` (``Error``), ``forget`` (the task is
gone). Set ``polling_host`` to hand out polling URLs on another host.

    with BflFakeServer(key="bfl-test") as server:
        os.environ["BFL_BASE_URL"] = server.url
"""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass
from typing import Any

from tests.servers.fake_api import FakeApi, Fault, Query, Reply, input_errors, serve_main

BFL_TEST_KEY = "bfl-test-key-91ac3f"
CREDITS = {"flux-pro-1.1": 4.0, "flux-pro-1.1-ultra": 6.0, "flux-2-pro": 3.0, "flux-2-klein-4b": 1.4}
ENDING = {"moderate": "Request Moderated", "moderate_output": "Content Moderated", "error": "Error"}


@dataclass
class Task:
    id: str
    model: str
    input: dict[str, Any]
    submitted: float  # monotonic
    ending: str = "Ready"
    sample: str | None = None


class BflFakeServer(FakeApi):
    routes = ("submit", "get_result")

    def __init__(self, latency_s: float = 0.0, **kwargs: Any) -> None:
        super().__init__(latency_s, **kwargs)
        self.tasks: dict[str, Task] = self.pending
        self.polling_host: str | None = None

    def route_of(self, method: str, path: str) -> str:
        parts = path.strip("/").split("/")
        if method == "GET" and parts == ["v1", "get_result"]:
            return "get_result"
        if method == "POST" and len(parts) == 2 and parts[0] == "v1":
            return "submit"
        return "unknown"

    def authorized(self, headers: Any) -> bool:
        return headers.get("x-key") == self.key

    def unauthorized(self) -> Reply:
        return 403, {"detail": "Not authenticated - Invalid Authentication"}, {}

    # -- routes ------------------------------------------------------------------------------
    def handle(self, route: str, method: str, path: str, query: Query, body, fault: Fault | None, headers) -> Reply:
        if route == "submit":
            return self._submit(path.strip("/").split("/")[1], body, fault)
        if route == "unknown":
            return 404, {"detail": "Not Found"}, {}
        task_id = query.get("id", [""])[0]
        if fault is not None and fault.kind == "forget":
            self.forget(task_id)
        with self.lock:
            task = self.tasks.get(task_id)
        if task is None:
            return 200, {"id": task_id, "status": "Task not found", "result": None, "progress": None}, {}
        share = self.elapsed_share(task.submitted)
        if share < 1:
            return 200, {"id": task.id, "status": "Pending", "result": None, "progress": round(share, 2)}, {}
        if task.ending == "Ready":
            return 200, {"id": task.id, "status": "Ready", "result": self._result(task), "progress": None}, {}
        details: Any = (
            {"Moderation Reasons": ["Derivative Works Filter"]}
            if "Moderated" in task.ending
            else "Internal error: CUDA out of memory (injected)"
        )
        return 200, {"id": task.id, "status": task.ending, "result": None, "progress": None, "details": details}, {}

    def _submit(self, model: str, body: Any, fault: Fault | None) -> Reply:
        errors = _validate(body)
        if errors:
            return 422, {"detail": errors}, {}
        task = Task(id=str(uuid.uuid4()), model=model, input=body, submitted=time.monotonic())
        if fault is not None and fault.kind in ENDING:
            task.ending = ENDING[fault.kind]
        with self.lock:
            self.tasks[task.id] = task
        width, height = _size(body)
        host = self.polling_host or self.url
        return (
            200,
            {
                "id": task.id,
                "polling_url": f"{host}/v1/get_result?id={task.id}",
                "cost": CREDITS.get(model, 3.0),
                "input_mp": 0.0,
                "output_mp": round(width * height / 1e6, 2),
            },
            {},
        )

    def _result(self, task: Task) -> dict[str, Any]:
        if task.sample is None:
            fmt = task.input.get("output_format", "jpeg")
            data = self.image(task.input["prompt"], int(task.input.get("seed") or 0), _size(task.input), fmt)
            url = self.add_file(f"{task.id}/sample.{'png' if fmt == 'png' else 'jpeg'}", data, f"image/{fmt}")
            task.sample = f"{url}?se=2026-11-26T10%3A00%3A00Z&sig=fake-signature"
        return {
            "sample": task.sample,
            "prompt": task.input["prompt"],
            "seed": task.input.get("seed"),
            "duration": self.latency_s,
        }


def _size(body: dict[str, Any]) -> tuple[int, int]:
    if "aspect_ratio" in body:
        w, h = (int(x) for x in str(body["aspect_ratio"]).split(":"))
        return (2048, 2048 * h // w) if w >= h else (2048 * w // h, 2048)
    return int(body.get("width", 1024)), int(body.get("height", 768))


def _validate(body: Any) -> list[dict[str, Any]]:
    errors = input_errors(body)
    if not isinstance(body, dict):
        return errors
    for field in ("width", "height"):
        value = body.get(field, 1024)
        if not isinstance(value, int) or value % 16 or not 64 <= value <= 4096:
            errors.append(
                {
                    "loc": ["body", field],
                    "msg": "Input should be a multiple of 16 between 64 and 4096",
                    "type": "multiple_of",
                    "input": value,
                }
            )
    if (
        isinstance(body.get("width"), int)
        and isinstance(body.get("height"), int)
        and body["width"] * body["height"] > 4_194_304
    ):
        errors.append({"loc": ["body"], "msg": "Image is larger than 4 megapixels", "type": "value_error"})
    if body.get("output_format", "jpeg") not in ("jpeg", "png"):
        errors.append({"loc": ["body", "output_format"], "msg": "Input should be 'jpeg' or 'png'", "type": "enum"})
    return errors


if __name__ == "__main__":
    serve_main(BflFakeServer, "Fake BFL API server", "seconds from submit to Ready", "x-key: ")
