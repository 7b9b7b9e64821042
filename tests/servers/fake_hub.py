"""A fake Hugging Face Hub on 127.0.0.1 serving model folders, for ``HF_ENDPOINT`` in tests.

It answers the calls ``huggingface_hub`` makes to download files (the same URL shapes,
JSON fields and headers as huggingface.co): repository info
(``GET /api/models/{repo}/revision/{rev}``), the file tree
(``GET /api/models/{repo}/tree/{rev}``), and file metadata and content
(``HEAD``/``GET /{repo}/resolve/{rev}/{path}`` with ``X-Repo-Commit``, ``ETag`` and
``Content-Length``). Unknown repositories get 404 with ``X-Error-Code: RepoNotFound``.
"""

from __future__ import annotations

import hashlib
import json
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import unquote, urlsplit

from tests.servers.fake_api import ServedOnThread


class FakeHub(ServedOnThread):
    """Serve ``repos`` (``"owner/name" -> folder``) the way the Hub does; records request paths."""

    def __init__(self, repos: dict[str, Path]) -> None:
        self.repos = {repo: Path(folder) for repo, folder in repos.items()}
        self.requests: list[tuple[str, str]] = []
        hub = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:
                pass

            def do_GET(self) -> None:
                hub._answer(self, with_body=True)

            def do_HEAD(self) -> None:
                hub._answer(self, with_body=False)

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"

    @staticmethod
    def commit(repo: str) -> str:
        return hashlib.sha1(repo.encode()).hexdigest()

    def _files(self, repo: str) -> list[str]:
        root = self.repos[repo]
        return sorted(str(p.relative_to(root)) for p in root.rglob("*") if p.is_file())

    def _answer(self, handler: BaseHTTPRequestHandler, *, with_body: bool) -> None:
        path = unquote(urlsplit(handler.path).path)
        self.requests.append((handler.command, path))
        parts = path.strip("/").split("/")
        if parts[:2] == ["api", "models"] and len(parts) >= 6:
            repo, kind = "/".join(parts[2:4]), parts[4]
            if repo not in self.repos:
                return self._send(handler, 404, b'{"error": "Repository not found"}', {"X-Error-Code": "RepoNotFound"})
            if kind == "revision":
                files = self._files(repo)
                body = {
                    "id": repo,
                    "modelId": repo,
                    "sha": self.commit(repo),
                    "private": False,
                    "siblings": [{"rfilename": name} for name in files],
                }
                return self._json(handler, body, with_body)
            if kind == "tree":
                root = self.repos[repo]
                body = [
                    {
                        "type": "file",
                        "path": name,
                        "size": (root / name).stat().st_size,
                        "oid": hashlib.sha1((root / name).read_bytes()).hexdigest(),
                    }
                    for name in self._files(repo)
                ]
                return self._json(handler, body, with_body)
        if len(parts) >= 5 and parts[2] == "resolve":
            repo, name = "/".join(parts[:2]), "/".join(parts[4:])
            if repo not in self.repos:
                return self._send(handler, 404, b"Repository not found", {"X-Error-Code": "RepoNotFound"})
            file = self.repos[repo] / name
            if not file.is_file():
                return self._send(handler, 404, b"Entry not found", {"X-Error-Code": "EntryNotFound"})
            data = file.read_bytes()
            headers = {
                "X-Repo-Commit": self.commit(repo),
                "ETag": f'"{hashlib.sha256(data).hexdigest()}"',
                "Content-Type": "application/octet-stream",
            }
            return self._send(handler, 200, data, headers, with_body)
        return self._send(handler, 404, b"not found", {})

    def _json(self, handler: BaseHTTPRequestHandler, body: object, with_body: bool) -> None:
        self._send(handler, 200, json.dumps(body).encode(), {"Content-Type": "application/json"}, with_body)

    @staticmethod
    def _send(
        handler: BaseHTTPRequestHandler, status: int, data: bytes, headers: dict[str, str], with_body: bool = True
    ) -> None:
        handler.send_response(status)
        for key, value in headers.items():
            handler.send_header(key, value)
        handler.send_header("Content-Length", str(len(data)))
        handler.end_headers()
        if with_body:
            handler.wfile.write(data)
