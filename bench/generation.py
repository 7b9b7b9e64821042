"""Generation throughput against the fake fal queue: images/s versus the bound C/L.

A request takes L seconds on the server from submit to COMPLETED, so with C requests in
flight no client can exceed C/L images per second. This starts the fake server in its own
process (its CPU is not counted), runs the real runner (status streams, result fetch,
image download, Pillow decode, content-hash file write, SQLite commits, rich progress) on
N jobs, and prints images/s, the ratio to C/L and the client's CPU milliseconds per image.

    .venv/bin/python bench/generation.py --concurrency 64 --latency 0.5 --jobs 2560
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


from bench.served import bench_run, fake_server, load_parser  # noqa: E402
from tests.study_text import one_case_study  # noqa: E402
from viewfinder.generate.runner import GenerateOptions, run_generation  # noqa: E402

KEY = "bench-key"
# this repo's tests/ as the "tests" package, even where a wheel (ppi-python) installed its own
SERVE = (
    "import runpy, sys, types; tests = types.ModuleType('tests'); tests.__path__ = ['tests']; "
    "sys.modules['tests'] = tests; runpy.run_module('tests.servers.fal_server', run_name='__main__')"
)


def process_cpu_s(pid: int) -> float:
    """User + system CPU seconds of another process so far (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def main() -> None:
    parser = load_parser(__doc__, latency_help="server seconds from submit to COMPLETED", jobs=2560)
    parser.add_argument("--image-scale", type=int, default=16, help="server renders 1024x768 / N (16: 64x48 JPEG)")
    args = parser.parse_args()

    latency = ("--latency", str(args.latency), "--image-scale", str(args.image_scale), "--key", KEY)
    with fake_server("tests.servers.fal_server", *latency) as (server, url):
        os.environ.update(FAL_KEY=KEY, VIEWFINDER_FAL_URL=url)
        options = GenerateOptions(concurrency=args.concurrency, timeout_s=30)
        with bench_run(one_case_study("bench", ["fal:fal-ai/flux/schnell"], list(range(args.jobs)))) as (
            store,
            loaded,
            console,
        ):
            before, loop_cpu, wall = os.times(), time.thread_time(), time.perf_counter()
            summary = run_generation(store, loaded, options, console)
            after, loop_cpu, wall = os.times(), time.thread_time() - loop_cpu, time.perf_counter() - wall
        user, system = after.user - before.user, after.system - before.system
        server_cpu = process_cpu_s(server.pid)

    rate = summary.images / wall
    bound = args.concurrency / args.latency
    print(
        f"jobs {args.jobs}  concurrency {args.concurrency}  latency {args.latency:g} s  "
        f"completed {summary.completed}  failed {summary.failed}"
    )
    print(f"images/s           {rate:8.1f}")
    print(f"bound C/L          {bound:8.1f}")
    print(f"ratio to bound     {rate / bound:8.3f}   (target >= 0.95)")
    per_image = 1000 / max(summary.images, 1)
    print(f"CPU ms per image   {(user + system) * per_image:8.2f}   (target < 2)")
    print(f"  user / system    {user * per_image:8.2f} / {system * per_image:.2f}")
    print(f"  event-loop thread{loop_cpu * per_image:8.2f}   (the rest: worker threads)")
    print(f"wall s             {wall:8.2f}")
    print(f"server CPU ms/img  {1000 * server_cpu / max(summary.images, 1):8.2f}   (the fake server, for context)")


if __name__ == "__main__":
    main()
