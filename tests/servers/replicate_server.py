"""A local server that speaks Replicate's predictions API.

``POST /v1/models/{owner}/{name}/predictions`` (or ``POST /v1/predictions`` with a
``version``) answers 201 with a prediction whose ``urls.get`` / ``urls.cancel`` point at
this server. The prediction is ``starting`` for the first third of ``latency_s``,
``processing`` until ``latency_s``, then ``succeeded`` with ``output`` = a list of image
URLs served here; ``Prefer: wait[=N]`` holds the create answer until then (N s at most).
Inputs are checked against the schema of ``black-forest-labs/flux-schnell`` (422 with
Replicate's problem JSON). Fault kinds: ``error`` (the prediction ends
``failed``) and ``forget`` (the prediction is gone: 404).

    with ReplicateFakeServer(key="r8_test") as server:
        os.environ["REPLICATE_BASE_URL"] = server.url
"""

from __future__ import annotations

import math
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from tests.servers.fake_api import FakeApi, Fault, Query, Reply, serve_main

REPLICATE_TEST_TOKEN = "r8_test_replicate_0b7e55"
ASPECT_RATIOS = ("1:1", "16:9", "21:9", "3:2", "2:3", "4:5", "5:4", "3:4", "4:3", "9:16", "9:21")
FORMATS = {"webp": "image/webp", "jpg": "image/jpeg", "png": "image/png"}


@dataclass
class Prediction:
    id: str
    model: str
    version: str
    input: dict[str, Any]
    created: float  # monotonic
    created_at: str
    error: str | None = None
    canceled: bool = False
    output: list[str] | None = None


def _problem(status: int, title: str, detail: str, **extra: Any) -> Reply:
    return (
        status,
        {
            "type": f"https://replicate.com/docs/reference/http#{status}",
            "title": title,
            "detail": detail,
            "status": status,
            **extra,
        },
        {},
    )


class ReplicateFakeServer(FakeApi):
    routes = ("create", "get", "cancel")

    def __init__(self, latency_s: float = 0.0, **kwargs: Any) -> None:
        super().__init__(latency_s, **kwargs)
        self.predictions: dict[str, Prediction] = self.pending

    def route_of(self, method: str, path: str) -> str:
        parts = path.strip("/").split("/")
        if method == "POST" and (
            parts == ["v1", "predictions"]
            or (len(parts) == 5 and parts[:2] == ["v1", "models"] and parts[4] == "predictions")
        ):
            return "create"
        if len(parts) == 3 and parts[:2] == ["v1", "predictions"] and method == "GET":
            return "get"
        if len(parts) == 4 and parts[:2] == ["v1", "predictions"] and parts[3] == "cancel" and method == "POST":
            return "cancel"
        return "unknown"

    def unauthorized(self) -> Reply:
        return _problem(401, "Unauthenticated", "You did not pass a valid authentication token")

    # -- routes ------------------------------------------------------------------------------
    def handle(self, route: str, method: str, path: str, query: Query, body, fault: Fault | None, headers) -> Reply:
        if route == "create":
            status, reply, extra = self._create(path, body, fault)
            wait = _prefer_wait(headers.get("Prefer"))
            if status == 201 and wait:  # "Prefer: wait[=N]": hold the answer until done or N seconds
                prediction = self.predictions[reply["id"]]
                time.sleep(max(0.0, min(wait, self.latency_s - (time.monotonic() - prediction.created))))
                reply = self._body(prediction)
            return status, reply, extra
        if route == "unknown":
            return _problem(404, "Not found", "The requested resource could not be found.")
        prediction_id = path.strip("/").split("/")[2]
        if fault is not None and fault.kind == "forget":
            self.forget(prediction_id)
        with self.lock:
            prediction = self.predictions.get(prediction_id)
        if prediction is None:
            return _problem(404, "Not found", "The requested resource could not be found.")
        if route == "cancel" and self._status(prediction) in ("starting", "processing"):
            prediction.canceled = True
        return 200, self._body(prediction), {}

    def _create(self, path: str, body: Any, fault: Fault | None) -> Reply:
        if not isinstance(body, dict) or not isinstance(body.get("input"), dict):
            return _problem(422, "Input validation failed", "- input: input is required")
        parts = path.strip("/").split("/")
        if parts == ["v1", "predictions"]:
            if not isinstance(body.get("version"), str):
                return _problem(
                    422,
                    "Invalid version or not permitted",
                    "The specified version does not exist (or perhaps you don't have permission to use it?)",
                )
            model, version = "black-forest-labs/flux-schnell", body["version"]
        else:
            model, version = f"{parts[2]}/{parts[3]}", "dp-" + uuid.uuid4().hex[:28]
        invalid = _invalid_fields(body["input"])
        if invalid:
            detail = "".join(f"- {f['field']}: {f['description']}\n" for f in invalid)
            return _problem(422, "Input validation failed", detail, invalid_fields=invalid)
        prediction = Prediction(
            id=uuid.uuid4().hex[:26],
            model=model,
            version=version,
            input=body["input"],
            created=time.monotonic(),
            created_at=datetime.now(UTC).isoformat().replace("+00:00", "Z"),
        )
        if fault is not None and fault.kind == "error":
            prediction.error = "CUDA out of memory (injected)"
        with self.lock:
            self.predictions[prediction.id] = prediction
        return 201, self._body(prediction), {}

    # -- predictions -------------------------------------------------------------------------
    def _status(self, prediction: Prediction) -> str:
        if prediction.canceled:
            return "canceled"
        share = self.elapsed_share(prediction.created)
        if share < 1 / 3:
            return "starting"
        if share < 1:
            return "processing"
        return "failed" if prediction.error else "succeeded"

    def _body(self, prediction: Prediction) -> dict[str, Any]:
        status = self._status(prediction)
        base = f"{self.url}/v1/predictions/{prediction.id}"
        if status == "succeeded" and prediction.output is None:
            prediction.output = self._render(prediction)
        return {
            "id": prediction.id,
            "model": prediction.model,
            "version": prediction.version,
            "input": prediction.input,
            "logs": f"Using seed: {prediction.input.get('seed')}\n"
            + ("100%|##########| 4/4\n" if status == "succeeded" else ""),
            "output": prediction.output if status == "succeeded" else None,
            "data_removed": False,
            "error": prediction.error if status == "failed" else None,
            "status": status,
            "created_at": prediction.created_at,
            "started_at": prediction.created_at if status != "starting" else None,
            "completed_at": prediction.created_at if status in ("succeeded", "failed", "canceled") else None,
            "urls": {
                "get": base,
                "cancel": f"{base}/cancel",
                "stream": f"{self.url}/stream/{prediction.id}",
                "web": f"{self.url}/p/{prediction.id}",
            },
            "metrics": {"predict_time": self.latency_s, "total_time": self.latency_s} if status == "succeeded" else {},
        }

    def _render(self, prediction: Prediction) -> list[str]:
        inputs = prediction.input
        w, h = (int(x) for x in inputs.get("aspect_ratio", "1:1").split(":"))
        width = int(round(math.sqrt(1_000_000 * w / h) / 16)) * 16
        height = int(round(width * h / w / 16)) * 16
        fmt = inputs.get("output_format", "webp")
        seed = int(inputs.get("seed") or 0)
        urls = []
        for index in range(int(inputs.get("num_outputs", 1))):
            data = self.image(inputs["prompt"], seed + index, (width, height), "png" if fmt == "png" else "jpeg")
            urls.append(
                self.add_file(f"{prediction.id}/out-{index}.{fmt}", data, "image/png" if fmt == "png" else "image/jpeg")
            )
        return urls


def _prefer_wait(value: str | None) -> float:
    """Seconds a ``Prefer: wait`` or ``Prefer: wait=N`` header asks to hold (60 at most)."""
    if not value or not value.strip().startswith("wait"):
        return 0.0
    _, _, seconds = value.partition("=")
    return min(60.0, float(seconds)) if seconds.strip() else 60.0


def _invalid_fields(inputs: dict[str, Any]) -> list[dict[str, str]]:
    """The checks the flux-schnell schema makes, as Replicate reports them."""
    problems = []

    def bad(field: str, kind: str, description: str) -> None:
        problems.append({"type": kind, "field": f"input.{field}", "description": description})

    if not isinstance(inputs.get("prompt"), str):
        bad("prompt", "required", "prompt is required")
    if inputs.get("aspect_ratio", "1:1") not in ASPECT_RATIOS:
        bad("aspect_ratio", "enum", f"aspect_ratio must be one of the following: {', '.join(ASPECT_RATIOS)}")
    steps = inputs.get("num_inference_steps", 4)
    if not isinstance(steps, int) or not 1 <= steps <= 4:
        bad("num_inference_steps", "less_than_equal", "Must be less than or equal to 4")
    if inputs.get("output_format", "webp") not in FORMATS:
        bad("output_format", "enum", "output_format must be one of the following: webp, jpg, png")
    outputs = inputs.get("num_outputs", 1)
    if not isinstance(outputs, int) or not 1 <= outputs <= 4:
        bad("num_outputs", "less_than_equal", "Must be less than or equal to 4")
    return problems


if __name__ == "__main__":
    serve_main(
        ReplicateFakeServer,
        "Fake Replicate predictions server",
        "seconds from create to succeeded",
        "Authorization: Bearer ",
    )
