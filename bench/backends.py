"""Generation throughput of the OpenAI, Replicate and BFL backends against their fake servers.

Each server runs in its own process (its CPU is not counted) and takes L seconds per
request. The real runner makes N images with C requests in flight, so C/L images per
second is the bound; the polling APIs (Replicate, BFL) lose up to one poll interval per
image on top of L. Prints images/s, the ratio to C/L, requests per image and the client's
CPU milliseconds per image, one line per backend.

    .venv/bin/python bench/backends.py --concurrency 64 --latency 0.5 --jobs 640
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


from bench.served import bench_run, fake_server, load_parser  # noqa: E402
from tests.study_text import one_case_study  # noqa: E402
from viewfinder.generate.runner import GenerateOptions, run_generation  # noqa: E402

KEY = "bench-backends-key"
BACKENDS = {  # backend: (model, server module, key variable, base URL variable, URL suffix)
    "openai": ("openai:gpt-image-1.5", "tests.servers.openai_images_server", "OPENAI_API_KEY", "OPENAI_BASE_URL"),
    "replicate": (
        "replicate:black-forest-labs/flux-schnell",
        "tests.servers.replicate_server",
        "REPLICATE_API_TOKEN",
        "REPLICATE_BASE_URL",
    ),
    "bfl": ("bfl:flux-2-pro", "tests.servers.bfl_server", "BFL_API_KEY", "BFL_BASE_URL"),
}


def bench(name: str, args: argparse.Namespace) -> str:
    model, module, key_env, url_env = BACKENDS[name]
    with fake_server(module, "--latency", str(args.latency), "--key", KEY) as (_, url):
        os.environ.update({key_env: KEY, url_env: url})
        options = GenerateOptions(concurrency=args.concurrency, timeout_s=30, poll_interval_s=args.poll)
        with bench_run(one_case_study("bench", [model], list(range(args.jobs)))) as (store, loaded, console):
            cpu, wall = time.process_time(), time.perf_counter()
            summary = run_generation(store, loaded, options, console)
            cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
        control = url.removesuffix("/v1") + "/_control/requests"
        with urllib.request.urlopen(control) as answer:
            requests = len(json.load(answer))
    rate = summary.images / wall
    bound = args.concurrency / args.latency
    return (
        f"{name:<10} {summary.completed:>5} {summary.failed:>4} {rate:8.1f} {rate / bound:7.3f} "
        f"{requests / max(summary.images, 1):8.2f} {1000 * cpu / max(summary.images, 1):8.2f} {wall:7.2f}"
    )


def main() -> None:
    parser = load_parser(__doc__, latency_help="server seconds per request", jobs=640)
    parser.add_argument("--poll", type=float, default=0.5, help="seconds between status polls")
    parser.add_argument(
        "--only", choices=sorted(BACKENDS), action="append", help="bench only this backend (repeatable)"
    )
    args = parser.parse_args()
    print(
        f"jobs {args.jobs}  concurrency {args.concurrency}  latency {args.latency:g} s  poll {args.poll:g} s  "
        f"bound C/L {args.concurrency / args.latency:.1f} img/s"
    )
    print(
        f"{'backend':<10} {'done':>5} {'fail':>4} {'img/s':>8} {'ratio':>7} {'req/img':>8} {'CPU ms':>8} {'wall s':>7}"
    )
    for name in args.only or BACKENDS:
        print(bench(name, args), flush=True)


if __name__ == "__main__":
    main()
