"""The servers of ``bench/peer.py``: the fake fal queue and OpenAI chat server over TLS.

Run in their own process (``python bench/peer_servers.py --latency L --cert C --key K``):
the first line out names both URLs; each ``counts`` line in answers with the calls received
by kind, a timeline (first and last submit, last image download, first and last judge call)
and the process's CPU. With a latency, every status reply (poll or stream) and every judge
reply is held that long; a generation request is complete as soon as it is asked about.
"""

from __future__ import annotations

import argparse
import json
import re
import resource
import ssl
import subprocess
import sys
import time
import types
from collections import Counter
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
FAL_KEY = "peer-bench-fal-key"
OPENAI_KEY = "sk-peer-bench"


def serve(latency: float, cert: str, key: str) -> None:
    """Start both servers with TLS, print their URLs, answer ``counts`` lines on stdin."""
    tests = types.ModuleType("tests")  # this repo's tests/, even where a wheel installed a "tests" package
    tests.__path__ = [str(ROOT / "tests")]
    sys.modules["tests"] = tests
    from tests.servers.fal_server import FalFakeServer
    from tests.servers.openai_server import FakeOpenAI, good_answer

    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    fal = FalFakeServer(0.0, key=FAL_KEY, image_scale=16)
    fal.httpd.socket = context.wrap_socket(fal.httpd.socket, server_side=True)
    fal.url = fal.url.replace("http://", "https://")
    if latency > 0:
        for route in ("status", "stream"):
            fal.add_fault(route=route, kind="delay", delay_s=latency, times=-1)

    judged_at: list[float] = []

    def answer(request: dict[str, Any]) -> dict[str, Any]:
        judged_at.append(time.time())
        if (request.get("response_format") or {}).get("type") == "json_schema":
            return good_answer()  # viewfinder's form
        text = json.dumps(request["messages"][-1])
        found = re.search(r'\\"dimension\\": \\"(\w+)', text)
        dimension = found.group(1) if found else "visual_quality"
        return {
            "dimensions": [
                {
                    "dimension": dimension,
                    "score": 4,
                    "confidence": 0.9,
                    "explanation": "clear",
                    "evidence": [],
                }
            ]
        }

    judge = FakeOpenAI(key=OPENAI_KEY, responder=answer, latency_s=latency)
    handler = judge._server.RequestHandlerClass
    handler.protocol_version = "HTTP/1.1"  # keep-alive, as the real API
    handler.disable_nagle_algorithm = True  # headers and body are separate writes: no 40 ms stalls
    judge._server.socket = context.wrap_socket(judge._server.socket, server_side=True)
    fal.start()
    judge.__enter__()
    print(fal.url, judge.url.replace("http://", "https://"), flush=True)
    for line in sys.stdin:
        if line.strip() == "counts":
            calls = Counter(fal.route(r.method, r.path) for r in fal.recorded())
            calls["judge"] = len(judge.requests)
            submits = [r.at for r in fal.recorded("POST", "submit")]
            files = [r.at for r in fal.recorded("GET", "file")]
            timeline = {
                "first_submit": min(submits, default=0.0),
                "last_submit": max(submits, default=0.0),
                "last_file": max(files, default=0.0),
                "first_judge": min(judged_at, default=0.0),
                "last_judge": max(judged_at, default=0.0),
            }
            usage = resource.getrusage(resource.RUSAGE_SELF)
            server_cpu = usage.ru_utime + usage.ru_stime
            print(json.dumps({"calls": calls, "timeline": timeline, "server_cpu_s": server_cpu}), flush=True)


class Servers:
    """The server process for one run."""

    def __init__(self, latency: float, cert: Path, key: Path) -> None:
        self.proc = subprocess.Popen(
            [
                sys.executable,
                __file__,
                "--latency",
                str(latency),
                "--cert",
                str(cert),
                "--key",
                str(key),
            ],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            cwd=ROOT,
        )
        assert self.proc.stdout and self.proc.stdin
        self.fal_url, self.judge_url = self.proc.stdout.readline().split()

    def counts(self) -> tuple[dict[str, int], dict[str, float]]:
        """Calls received by kind, and when (wall clock) the first and last submit, image
        download and judge call arrived; ``cpu_s`` is then the servers' CPU so far."""
        assert self.proc.stdout and self.proc.stdin
        self.proc.stdin.write("counts\n")
        self.proc.stdin.flush()
        answer = json.loads(self.proc.stdout.readline())
        self.cpu_s = float(answer["server_cpu_s"])
        return dict(answer["calls"]), dict(answer["timeline"])

    def close(self) -> None:
        self.proc.kill()
        self.proc.wait()


def make_cert(folder: Path) -> tuple[Path, Path]:
    """A self-signed certificate for 127.0.0.1 (clients trust it through SSL_CERT_FILE)."""
    cert, key = folder / "cert.pem", folder / "key.pem"
    subprocess.run(
        [
            "openssl",
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "2",
            "-subj",
            "/CN=127.0.0.1",
            "-addext",
            "subjectAltName=IP:127.0.0.1",
            "-keyout",
            str(key),
            "-out",
            str(cert),
        ],
        check=True,
        capture_output=True,
    )
    return cert, key


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--latency", type=float, default=0.0)
    parser.add_argument("--cert", required=True)
    parser.add_argument("--key", required=True)
    args = parser.parse_args()
    serve(args.latency, args.cert, args.key)


if __name__ == "__main__":
    main()
