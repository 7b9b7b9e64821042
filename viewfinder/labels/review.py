"""``viewfinder review``: a local page to label a sample of the run's images, one at a time.

A Starlette app on uvicorn, bound to 127.0.0.1. Every request must carry the random token of
the printed URL (``?token=``), else 403, so other local users and web pages cannot read the
images or write labels. Each answer is stored at once, so closing the tab loses nothing and
running the command again continues at the first image with an unanswered question. The
prompt's requested camera and emotion are hidden unless ``--show-prompt``: the scene and style
questions show only the scene or style they ask about.
"""

from __future__ import annotations

import base64
import getpass
import hashlib
import secrets
import socket
from dataclasses import asdict
from importlib import resources
from typing import Any

from rich.console import Console
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import FileResponse, HTMLResponse, JSONResponse, Response
from starlette.routing import Route
from starlette.types import ASGIApp, Receive, Scope, Send

from viewfinder.errors import BadInput
from viewfinder.labels.questions import QUESTIONS, question
from viewfinder.labels.sample import review_sample
from viewfinder.store import ImageRecord, Label, RunStore
from viewfinder.store.labels import LABEL_DIMENSIONS
from viewfinder.study import Study

HOST = "127.0.0.1"


class TokenGate:
    """ASGI middleware: 403 for any HTTP request whose ``token`` query value is not the token."""

    def __init__(self, app: ASGIApp, token: str) -> None:
        self.app, self.token = app, token

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            given = Request(scope).query_params.get("token", "")
            if not secrets.compare_digest(given.encode(), self.token.encode()):
                await Response("forbidden: open the URL printed by 'viewfinder review'", 403)(scope, receive, send)
                return
        await self.app(scope, receive, send)


def _item(row: ImageRecord, show_prompt: bool) -> dict[str, Any]:
    """What the page shows of one image: the questions that apply and the text they ask about."""
    asked = [q.dimension for q in QUESTIONS if not q.about or row.prompt_field(q.about)]
    return {
        "id": row.id,
        "questions": asked,
        "scene": row.scene,
        "style": row.style,
        "prompt": row.prompt_text if show_prompt else None,
        "model": row.model if show_prompt else None,
    }


def _page() -> tuple[str, str]:
    """The page with its script inlined, and the script's sha256 for the CSP (no other script runs)."""
    assets = resources.files("viewfinder.labels").joinpath("assets")
    script = assets.joinpath("review.js").read_text(encoding="utf-8")
    page = assets.joinpath("review.html").read_text(encoding="utf-8").replace("/*SCRIPT*/", script)
    return page, base64.b64encode(hashlib.sha256(script.encode("utf-8")).digest()).decode("ascii")


def review_app(
    store: RunStore, image_ids: list[int], labeller: str, token: str, *, show_prompt: bool = False
) -> ASGIApp:
    """The review page's ASGI app for ``image_ids`` of the run in ``store``."""
    rows = {row.id: row for row in store.images(image_ids)}
    items = [_item(rows[image_id], show_prompt) for image_id in image_ids if image_id in rows]
    page, script_hash = _page()
    headers = {
        "Content-Security-Policy": f"default-src 'none'; script-src 'sha256-{script_hash}'; "
        "style-src 'unsafe-inline'; img-src 'self'; connect-src 'self'",
        "Cache-Control": "no-store",
        "Referrer-Policy": "no-referrer",
    }

    def index(request: Request) -> Response:
        return HTMLResponse(page, headers=headers)

    def state(request: Request) -> Response:
        mine: dict[str, dict[str, str]] = {}
        for label in store.labels(labeller):
            if label.image_id in rows:
                mine.setdefault(str(label.image_id), {})[label.dimension] = label.answer
        return JSONResponse(
            {
                "labeller": labeller,
                "items": items,
                "answers": mine,
                "questions": [asdict(q) for q in QUESTIONS],
            }
        )

    async def answer(request: Request) -> Response:
        try:
            body = await request.json()
            image_id, dimension, value = int(body["image_id"]), str(body["dimension"]), str(body["answer"])
        except (ValueError, KeyError, TypeError):
            return JSONResponse({"error": "send {image_id, dimension, answer}"}, 400)
        if image_id not in rows or dimension not in LABEL_DIMENSIONS or value not in question(dimension).answers:
            return JSONResponse({"error": "unknown image, dimension or answer"}, 400)
        store.add_labels([Label(image_id, dimension, labeller, value, "review")])
        return JSONResponse({"stored": True})

    def image(request: Request) -> Response:
        row = rows.get(int(request.path_params["image_id"]))
        if row is None:
            return Response("no such image in the sample", 404)
        return FileResponse(store.image_path(row), headers={"Cache-Control": "private, max-age=3600"})

    app = Starlette(
        routes=[
            Route("/", index),
            Route("/api/state", state),
            Route("/api/answer", answer, methods=["POST"]),
            Route("/image/{image_id:int}", image),
        ]
    )
    return TokenGate(app, token)


def bind(port: int) -> socket.socket:
    """A listening socket on 127.0.0.1 (``port`` 0: a free one)."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((HOST, port))
    except OSError as exc:
        sock.close()
        raise BadInput(f"--port {port}: cannot listen on {HOST} ({exc.strerror}); choose another port or 0") from None
    sock.listen(64)
    return sock


def serve_review(
    store: RunStore,
    study: Study,
    *,
    sample: int,
    labeller: str = "",
    port: int = 0,
    show_prompt: bool = False,
    console: Console | None = None,
) -> None:
    """Serve the review page until Ctrl-C; prints the URL with its token."""
    import uvicorn

    console = console or Console(stderr=True)
    name = labeller.strip() or getpass.getuser()
    image_ids = review_sample(store, sample)
    if not image_ids:
        raise BadInput(f"{store.run_dir}: the run has no images to review; generate or import some first")
    token = secrets.token_urlsafe(24)
    sock = bind(port)
    url = f"http://{HOST}:{sock.getsockname()[1]}/?token={token}"
    console.print(f"review {len(image_ids)} images of {study.name} as {name!r}: open {url}", markup=False)
    console.print("each answer is stored at once; stop with Ctrl-C and run again to continue", markup=False)
    app = review_app(store, image_ids, name, token, show_prompt=show_prompt)
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", access_log=False))
    server.run(sockets=[sock])
