"""viewfinder side by side with evalytic 0.6.0 on the same local servers.

Both tools generate N images through a local fal-protocol queue (TLS, so fal-client's fixed
``https://`` works unchanged) and judge each image once through a local OpenAI-protocol chat
server (TLS too). The servers run in their own process (their CPU is not counted) and answer
at once, or hold every status reply (poll or stream) and every judge reply for ``--latency``
seconds; a generation request is complete as soon as it is asked about. Each run gets fresh
servers and fresh folders. Runs come in interleaved pairs (the tool that goes first
alternates); the script prints each tool's median wall time (process start to exit, start-up
included), peak memory, the per-pair ratios and each tool's calls by kind.

evalytic is installed on first use into a scratch venv (``--peer-venv``, default
/tmp/peer-venv): ``pip install 'evalytic[generation]==0.6.0'``. It runs as its users run it
(``evalytic bench -m flux-schnell -p prompts.json --judge gpt-4o-mini --judge-url URL
--concurrency C --no-metrics -y``, its default judge dimensions); an ``evalytic.toml`` in its
folder names the model's cost, which stops it scraping fal.ai's model page (no network here).
viewfinder runs ``viewfinder run STUDY --analyzers judge --until analyze --concurrency C``
with ``VIEWFINDER_JUDGE_CONCURRENCY=C``.

    .venv/bin/python bench/peer.py --prompts 200 --pairs 5 --concurrency 4 16 --latency 0 0.5
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from peer_servers import FAL_KEY, OPENAI_KEY, Servers, make_cert

ROOT = Path(__file__).resolve().parent.parent
EVALYTIC = "evalytic[generation]==0.6.0"
MODEL = "fal-ai/flux/schnell"


# -- the two tools ----------------------------------------------------------------------------
@dataclass
class Outcome:
    wall_s: float
    cpu_s: float
    peak_mib: float
    images: int
    calls: dict[str, int]
    timeline: dict[str, float]  # seconds from process start: first_submit, last_submit, last_file, ...
    server_cpu_s: float  # what answering this tool cost the fake servers

    @property
    def first_submit_s(self) -> float:
        return self.timeline["first_submit"]


def timed(command: list[str], env: dict[str, str], cwd: Path, log: Path) -> tuple[float, float, float, int, float]:
    """Wall seconds, CPU seconds (user + system), peak resident MiB, exit code and the
    wall-clock start of one process."""
    with log.open("w") as out:
        started = time.time()
        start = time.perf_counter()
        proc = subprocess.Popen(command, env=env, cwd=cwd, stdout=out, stderr=subprocess.STDOUT)
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - start
    proc.returncode = os.waitstatus_to_exitcode(status)
    return wall, usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024, proc.returncode, started


def study_text(prompts: int) -> str:
    """A study of ``prompts`` jobs: 2 cameras x 2 styles x prompts/4 seeds of one case."""
    seeds = list(range((prompts + 3) // 4))
    return "\n".join(
        [
            'name = "peer"',
            'topic = "facial-expressions"',
            'cameras = ["eye-level", "low-angle close-up"]',
            'styles = ["cinematic", "documentary"]',
            f'models = ["fal:{MODEL}"]',
            f"seeds = {seeds}",
            "[[emotions]]",
            'name = "Jealousy"',
            "[[emotions.cases]]",
            'variant = "Lonely and envious"',
            'subject = "A single woman"',
            'category = "Single Persons"',
            'scene = "A crowded party with couples dancing"',
            "",
        ]
    )


def run_viewfinder(folder: Path, servers: Servers, prompts: int, concurrency: int, base_env: dict[str, str]) -> Outcome:
    study = folder / "peer.toml"
    study.write_text(study_text(prompts))
    env = {
        **base_env,
        "PYTHONPATH": str(ROOT),
        "FAL_KEY": FAL_KEY,
        "VIEWFINDER_FAL_URL": servers.fal_url,
        "OPENAI_API_KEY": OPENAI_KEY,
        "OPENAI_BASE_URL": servers.judge_url,
        "VIEWFINDER_JUDGE_CONCURRENCY": str(concurrency),
    }
    command = [
        sys.executable,
        "-m",
        "viewfinder",
        "run",
        str(study),
        "--workdir",
        str(folder / "run"),
        "--limit",
        str(prompts),
        "--analyzers",
        "judge",
        "--judge",
        "openai:gpt-4o-mini",
        "--until",
        "analyze",
        "--concurrency",
        str(concurrency),
    ]
    wall, cpu, peak, code, started = timed(command, env, folder, folder / "viewfinder.log")
    if code != 0:
        raise SystemExit(f"viewfinder exited {code}; see {folder / 'viewfinder.log'}")
    images = len(list((folder / "run" / "images").rglob("*.jp*g")))
    calls, timeline = servers.counts()
    return Outcome(wall, cpu, peak, images, calls, {k: v - started for k, v in timeline.items()}, servers.cpu_s)


def run_evalytic(
    folder: Path, servers: Servers, prompts: int, concurrency: int, venv: Path, base_env: dict[str, str]
) -> Outcome:
    texts = [json.loads(line)["text"] for line in _expand(folder, prompts)]
    (folder / "prompts.json").write_text(json.dumps(texts[:prompts]))
    (folder / "evalytic.toml").write_text(f'[bench.model_overrides.flux-schnell]\nendpoint = "{MODEL}"\ncost = 0.003\n')
    host = servers.fal_url.removeprefix("https://")
    env = {
        **base_env,
        "HOME": str(folder),
        "FAL_KEY": FAL_KEY,
        "FAL_RUN_HOST": host,
        "FAL_QUEUE_RUN_HOST": host,
        "OPENAI_API_KEY": OPENAI_KEY,
    }
    command = [
        str(venv / "bin" / "evalytic"),
        "bench",
        "-m",
        "flux-schnell",
        "-p",
        "prompts.json",
        "--judge",
        "gpt-4o-mini",
        "--judge-url",
        servers.judge_url,
        "--concurrency",
        str(concurrency),
        "--no-metrics",
        "-y",
        "--cache-dir",
        str(folder / "cache"),
        "-o",
        str(folder / "report.json"),
    ]
    wall, cpu, peak, code, started = timed(command, env, folder, folder / "evalytic.log")
    if code != 0:
        raise SystemExit(f"evalytic exited {code}; see {folder / 'evalytic.log'}")
    images = len(list((folder / "cache").rglob("*.jp*g")))
    calls, timeline = servers.counts()
    return Outcome(wall, cpu, peak, images, calls, {k: v - started for k, v in timeline.items()}, servers.cpu_s)


def _expand(folder: Path, prompts: int) -> list[str]:
    study = folder / "peer.toml"
    study.write_text(study_text(prompts))
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    result = subprocess.run(
        [sys.executable, "-m", "viewfinder", "expand", str(study), "--format", "jsonl"],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    lines = result.stdout.splitlines()  # one line per prompt; each seed repeats its prompt
    seeds = (prompts + 3) // 4
    return [line for line in lines for _ in range(seeds)]


# -- set-up -----------------------------------------------------------------------------------
def peer_venv(path: Path) -> Path:
    """The scratch venv holding evalytic 0.6.0 (made on first use)."""
    if not (path / "bin" / "evalytic").exists():
        subprocess.run([sys.executable, "-m", "venv", "--clear", str(path)], check=True)
        subprocess.run([str(path / "bin" / "python"), "-m", "pip", "install", "-q", EVALYTIC], check=True)
    version = subprocess.run(
        [str(path / "bin" / "python"), "-c", "import evalytic; print(evalytic.__version__)"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    if version != "0.6.0":
        raise SystemExit(f"{path} holds evalytic {version}, not 0.6.0; remove it or pass another --peer-venv")
    return path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--prompts", "-n", type=int, default=200)
    parser.add_argument("--pairs", type=int, default=5)
    parser.add_argument("--concurrency", "-c", type=int, nargs="+", default=[4, 16])
    parser.add_argument(
        "--latency",
        "-l",
        type=float,
        nargs="+",
        default=[0.0, 0.5],
        help="seconds each status and judge reply is held (0: answers at once)",
    )
    parser.add_argument("--peer-venv", type=Path, default=Path("/tmp/peer-venv"))
    parser.add_argument("--keep", type=Path, default=None, help="keep run folders here (default: a temp dir, removed)")
    args = parser.parse_args()

    venv = peer_venv(args.peer_venv)
    scratch = Path(tempfile.mkdtemp(prefix="peer-")) if args.keep is None else args.keep
    scratch.mkdir(parents=True, exist_ok=True)
    cert, key = make_cert(scratch)
    base_env = {k: v for k, v in os.environ.items() if not k.startswith(("FAL_", "OPENAI_", "VIEWFINDER_"))}
    base_env.update(SSL_CERT_FILE=str(cert), NO_COLOR="1", COLUMNS="120")
    rows = []
    try:
        for latency in args.latency:
            for concurrency in args.concurrency:
                rows.append(scenario(args, latency, concurrency, venv, scratch, base_env, cert, key))
    finally:
        if args.keep is None:
            shutil.rmtree(scratch, ignore_errors=True)
    print_table(rows, args.prompts)


def scenario(
    args: argparse.Namespace,
    latency: float,
    concurrency: int,
    venv: Path,
    scratch: Path,
    base_env: dict[str, str],
    cert: Path,
    key: Path,
) -> dict[str, Any]:
    results: dict[str, list[Outcome]] = {"viewfinder": [], "evalytic": []}
    for pair in range(args.pairs):
        order = ["viewfinder", "evalytic"] if pair % 2 == 0 else ["evalytic", "viewfinder"]
        for tool in order:
            folder = scratch / f"L{latency:g}-C{concurrency}-{pair}-{tool}"
            folder.mkdir(parents=True)
            servers = Servers(latency, cert, key)
            try:
                if tool == "viewfinder":
                    outcome = run_viewfinder(folder, servers, args.prompts, concurrency, base_env)
                else:
                    outcome = run_evalytic(folder, servers, args.prompts, concurrency, venv, base_env)
            finally:
                servers.close()
            if outcome.images != args.prompts:
                raise SystemExit(f"{tool} stored {outcome.images} of {args.prompts} images in {folder}")
            results[tool].append(outcome)
            print(
                f"L={latency:g} C={concurrency} pair {pair + 1} {tool}: {outcome.wall_s:.2f} s, "
                f"CPU {outcome.cpu_s:.2f} s (servers {outcome.server_cpu_s:.2f} s), "
                f"{' '.join(f'{k} {v:.2f}' for k, v in outcome.timeline.items())}, "
                f"{outcome.peak_mib:.0f} MiB, calls {outcome.calls}",
                flush=True,
            )
    ours, theirs = results["viewfinder"], results["evalytic"]
    return {
        "latency": latency,
        "concurrency": concurrency,
        "viewfinder": statistics.median(o.wall_s for o in ours),
        "evalytic": statistics.median(o.wall_s for o in theirs),
        "ratios": [a.wall_s / b.wall_s for a, b in zip(ours, theirs, strict=True)],
        "peak": (max(o.peak_mib for o in ours), max(o.peak_mib for o in theirs)),
        "cpu": (statistics.median(o.cpu_s for o in ours), statistics.median(o.cpu_s for o in theirs)),
        "first": (
            statistics.median(o.first_submit_s for o in ours),
            statistics.median(o.first_submit_s for o in theirs),
        ),
        "calls": (ours[-1].calls, theirs[-1].calls),
    }


def print_table(rows: list[dict[str, Any]], prompts: int) -> None:
    print(f"\n{prompts} prompts, generate + one judge pass; medians of interleaved pairs\n")
    print(
        "| server | C | viewfinder | evalytic | ratio of medians | per-pair ratios | CPU s (vf / ev) "
        "| first submit s (vf / ev) | peak MiB (vf / ev) |"
    )
    print("|---|---|---|---|---|---|---|---|---|")
    for row in rows:
        server = "answers at once" if row["latency"] == 0 else f"{row['latency']:g} s per status and judge reply"
        pairs = ", ".join(f"{r:.2f}" for r in row["ratios"])
        print(
            f"| {server} | {row['concurrency']} | {row['viewfinder']:.2f} s | {row['evalytic']:.2f} s | "
            f"{row['viewfinder'] / row['evalytic']:.2f} | {pairs} | {row['cpu'][0]:.2f} / {row['cpu'][1]:.2f} | "
            f"{row['first'][0]:.2f} / {row['first'][1]:.2f} | {row['peak'][0]:.0f} / {row['peak'][1]:.0f} |"
        )
    print("\ncalls per run (last pair):")
    for row in rows:
        print(
            f"  L={row['latency']:g} C={row['concurrency']}: viewfinder {row['calls'][0]}; evalytic {row['calls'][1]}"
        )


if __name__ == "__main__":
    main()
