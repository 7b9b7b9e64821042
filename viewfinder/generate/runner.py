"""The generation runner: bounded concurrency, retries, resume and the cost ledger.

Job states in the store: ``pending`` -> ``submitted`` (request id and the provider's URLs
committed before any waiting) -> ``completed`` (image file on disk, image row, ledger
entry and job update in one transaction) or ``failed`` (``last_error``). On resume,
submitted jobs are waited on, not resubmitted; a request the provider no longer knows is
submitted again; completed jobs are never touched. Failed jobs are tried again.
One window stays open: a crash inside a submit round trip (the provider got the POST, the
request id is not committed yet) leaves the job pending, and fal's queue has no idempotency
key to find that request again, so the job is submitted a second time.
"""

from __future__ import annotations

import asyncio
import json
import sqlite3
import time
from dataclasses import dataclass, field
from typing import Any, Callable, Sequence

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table
from rich.text import Text

from viewfinder.errors import BadInput, FatalRunError
from viewfinder.generate.backend import (
    Backend,
    BackendSettings,
    GenerationRequest,
    GenerationResult,
    JobFailed,
    RequestUnknown,
    RetryableError,
    Submission,
    make_backend,
    split_model,
)
from viewfinder.generate.batching import Batcher
from viewfinder.generate.download import MAX_IMAGE_BYTES, MAX_IMAGE_PIXELS, StoredImage, fetch_image, store_batch
from viewfinder.generate.http import new_session
from viewfinder.generate.pricing import billed_megapixels, estimate_job_cost, has_price, image_cost
from viewfinder.generate.retry import RetryPolicy, with_retries
from viewfinder.store import RunStore
from viewfinder.study import Study

MAX_RESUBMITS = 3
REFRESH_S = 0.05  # progress counts go to rich at most this often (it redraws at 4 Hz)
STORE_LINGER_S = 0.1  # downloaded images gather this long, then share one flush and commit


@dataclass
class GenerateOptions:
    """How to run the generation stage (CLI options map onto these)."""

    limit: int | None = None
    max_cost: float | None = None
    concurrency: int = 8
    dry_run: bool = False
    timeout_s: float = 60.0
    job_timeout_s: float = 900.0
    poll_interval_s: float = 0.5
    retry: RetryPolicy = field(default_factory=RetryPolicy)
    max_image_bytes: int = MAX_IMAGE_BYTES
    max_image_pixels: int = MAX_IMAGE_PIXELS
    on_stored: Callable[[], None] | None = None  # called after each batch of images is recorded
    executor: str = "local"  # "ray": diffusers models run on Ray actors
    ray_address: str | None = None


@dataclass(frozen=True)
class _Downloaded:
    """A job whose images are downloaded, waiting for its batch to be stored and recorded."""

    job: sqlite3.Row
    backend: Backend
    submission: Submission
    result: GenerationResult
    images: list[bytes]
    estimate: float


@dataclass
class GenerationSummary:
    """What one generation stage did."""

    planned: int = 0
    completed: int = 0
    failed: int = 0
    skipped: int = 0  # not submitted: the budget would have been passed
    images: int = 0
    retries: int = 0
    cost_usd: float = 0.0
    estimated_cost_usd: float = 0.0
    elapsed_s: float = 0.0
    errors: dict[str, str] = field(default_factory=dict)


def run_generation(store: RunStore, study: Study, options: GenerateOptions, console: Console) -> GenerationSummary:
    """Make every image not made yet; print progress to ``console``; return the summary."""
    jobs = _selected_jobs(store, options.limit)
    estimates = {job["id"]: estimate_job_cost(job["model"], json.loads(job["params"]), study.prices) for job in jobs}
    if options.max_cost is not None:
        _require_prices(jobs, study)
    if options.dry_run:
        return _dry_run(jobs, estimates, store, console)
    if not jobs:
        console.print("generate: every job is already completed")
        return GenerationSummary()
    return asyncio.run(_Generation(store, study, options, console, jobs, estimates).run())


def _selected_jobs(store: RunStore, limit: int | None) -> list[sqlite3.Row]:
    """Jobs still to do: submitted ones first (already paid for), then pending and failed."""
    jobs = store.jobs(states=["submitted", "pending", "failed"])
    jobs.sort(key=lambda job: job["state"] != "submitted")
    return jobs[:limit] if limit else jobs


def _require_prices(jobs: list[sqlite3.Row], study: Study) -> None:
    for model in sorted({job["model"] for job in jobs}):
        if not has_price(model, study.prices):
            raise BadInput(
                f"--max-cost: no price is known for {model!r}; add it to the study's [prices] table "
                f'("{model}" = USD per megapixel)'
            )


def _dry_run(
    jobs: list[sqlite3.Row], estimates: dict[str, float], store: RunStore, console: Console
) -> GenerationSummary:
    table = Table(title=f"{len(jobs)} jobs to run (dry run: nothing is called)")
    for column in ("job", "state", "model", "seed", "USD", "prompt"):
        table.add_column(column, overflow="fold")
    for job in jobs:
        cells = (job["id"], job["state"], job["model"], str(job["seed"]), f"{estimates[job['id']]:.4f}", job["prompt_text"])
        table.add_row(*(Text(cell) for cell in cells))  # prompt text is data, never rich markup
    console.print(table)
    total = sum(estimates.values())
    console.print(f"estimated cost: ${total:.4f} for {len(jobs)} images; spent so far: ${store.total_cost():.4f}")
    return GenerationSummary(planned=len(jobs), estimated_cost_usd=round(total, 6))


class _Generation:
    """One asyncio run over the selected jobs."""

    def __init__(
        self,
        store: RunStore,
        study: Study,
        options: GenerateOptions,
        console: Console,
        jobs: list[sqlite3.Row],
        estimates: dict[str, float],
    ) -> None:
        self.store, self.study, self.options, self.console = store, study, options, console
        self.jobs, self.estimates = jobs, estimates
        self.summary = GenerationSummary(planned=len(jobs), estimated_cost_usd=round(sum(estimates.values()), 6))
        self.reserved = 0.0
        self.in_flight = 0
        self.refresh_pending = False
        self.budget_stopped = False
        self.submits_paused_until = 0.0
        self.fatal: FatalRunError | None = None
        self.started = time.perf_counter()
        self.backends: dict[str, Backend] = {}

    async def run(self) -> GenerationSummary:
        settings = BackendSettings(
            self.options.timeout_s, self.options.concurrency, self.options.poll_interval_s,
            self.options.executor, self.options.ray_address,
        )
        for model in dict.fromkeys(job["model"] for job in self.jobs):
            split_model(model)
            self.backends[model] = make_backend(model, settings)
        self.downloads = new_session(self.options.timeout_s, self.options.concurrency + 8)
        self.finishing: set[asyncio.Task[None]] = set()
        self.finishing_slots = asyncio.Semaphore(self.options.concurrency)
        self.storing: Batcher[_Downloaded, list[StoredImage] | JobFailed] = Batcher(
            self._store, self._record, linger_s=STORE_LINGER_S
        )
        queue: asyncio.Queue[sqlite3.Row] = asyncio.Queue()
        for job in self.jobs:
            if job["state"] == "submitted":
                self.reserved += self.estimates[job["id"]]
            queue.put_nowait(job)
        self.progress = Progress(
            TextColumn("generate"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("failed {task.fields[failed]}  in flight {task.fields[in_flight]}"),
            TextColumn("{task.fields[rate]:.2f} img/s  ${task.fields[cost]:.4f}"),
            TimeElapsedColumn(),
            console=self.console,
            refresh_per_second=4,
        )
        try:
            with self.progress:
                self.task = self.progress.add_task(
                    "generate", total=len(self.jobs), failed=0, in_flight=0, rate=0.0, cost=0.0
                )
                workers = [asyncio.create_task(self._worker(queue)) for _ in range(self.options.concurrency)]
                self.workers = workers
                outcomes = await asyncio.gather(*workers, return_exceptions=True)
                self.storing.hurry()  # no job is left to submit: the last images need no company
                outcomes += await asyncio.gather(*self.finishing, return_exceptions=True)
                self._refresh(final=True)
        finally:
            await self.downloads.close()
            for backend in self.backends.values():
                await backend.aclose()
        self.summary.elapsed_s = time.perf_counter() - self.started
        self.summary.cost_usd = round(self.summary.cost_usd, 6)
        if self.fatal is not None:
            raise self.fatal
        for outcome in outcomes:
            if isinstance(outcome, Exception):
                raise outcome
        self._report()
        return self.summary

    async def _worker(self, queue: asyncio.Queue[sqlite3.Row]) -> None:
        while not queue.empty() and self.fatal is None:
            job = queue.get_nowait()
            try:
                await self._job(job)
            except FatalRunError as exc:
                self.fatal = exc
                for task in self.workers:
                    if task is not asyncio.current_task():
                        task.cancel()
                return

    # -- one job ----------------------------------------------------------------------------
    async def _job(self, job: sqlite3.Row) -> None:
        """Hold a provider slot from submit until the result is known; the image download and
        storage then run alongside, so the slot serves the next job at once."""
        backend = self.backends[job["model"]]
        estimate = self.estimates[job["id"]]
        submission = _stored_submission(job)
        if submission is None and not self._reserve(estimate):
            self.summary.skipped += 1
            return
        self._in_flight(+1)
        try:
            submission, result = await self._generate(backend, job, submission)
        except (JobFailed, RetryableError) as exc:
            self._give_up(job, backend, exc, estimate)
            return
        except BaseException:
            self.reserved -= estimate
            raise
        finally:
            self._in_flight(-1)
        await self.finishing_slots.acquire()
        task = asyncio.create_task(self._finish(job, backend, submission, result, estimate))
        self.finishing.add(task)
        task.add_done_callback(self.finishing.discard)

    async def _generate(
        self, backend: Backend, job: sqlite3.Row, submission: Submission | None
    ) -> tuple[Submission, GenerationResult]:
        """Submit (unless a stored request is still known) and wait for the result."""
        request = GenerationRequest(
            job_id=job["id"],
            model_id=split_model(job["model"])[1],
            prompt=job["prompt_text"],
            seed=job["seed"],
            params=json.loads(job["params"]),
        )
        attempts = job["attempts"]
        for _ in range(MAX_RESUBMITS + 1):
            if submission is None:
                submission = await self._submit(backend, request, job)
                attempts += 1
                self._mark_submitted(job["id"], backend.payload(request), submission, attempts)
            try:
                return submission, await self._wait(backend, submission, job)
            except RequestUnknown:
                submission = None
        raise JobFailed(f"the provider lost the request {MAX_RESUBMITS + 1} times")

    async def _submit(self, backend: Backend, request: GenerationRequest, job: sqlite3.Row) -> Submission:
        """Submit with retries; a Retry-After from the provider pauses every worker's submits."""

        async def attempt() -> Submission:
            pause = self.submits_paused_until - time.monotonic()
            if pause > 0:
                await asyncio.sleep(pause)
            return await backend.submit(request)

        return await with_retries(attempt, self.options.retry, self._retry_note(job, "submit"))

    async def _finish(
        self, job: sqlite3.Row, backend: Backend, submission: Submission, result: GenerationResult, estimate: float
    ) -> None:
        """Download the images, free the slot, then hand them to the batch that verifies,
        stores, flushes and records them (each job's rows in the batch's one transaction):
        the batch's wait for company holds no slot."""
        try:
            images = []
            for ref in result.images:
                images.append(await with_retries(lambda: self._download(ref), self.options.retry, self._retry_note(job, "download")))
        except (JobFailed, RetryableError) as exc:
            self._give_up(job, backend, exc, estimate)
            return
        finally:
            self.finishing_slots.release()
        await self.storing.put(_Downloaded(job, backend, submission, result, images, estimate))

    def _give_up(self, job: sqlite3.Row, backend: Backend, error: Exception, estimate: float) -> None:
        prefix = "gave up after retries: " if isinstance(error, RetryableError) else ""
        self._fail(job["id"], backend.redact(prefix + str(error)))
        self.reserved -= estimate

    async def _wait(self, backend: Backend, submission: Submission, job: sqlite3.Row) -> GenerationResult:
        try:
            async with asyncio.timeout(self.options.job_timeout_s):
                return await with_retries(lambda: backend.wait(submission), self.options.retry, self._retry_note(job, "wait"))
        except TimeoutError:
            cancelled = await backend.cancel(submission)
            raise JobFailed(
                f"no result after {self.options.job_timeout_s:g} s; "
                + ("the request was cancelled" if cancelled else "cancelling it failed")
            ) from None

    async def _download(self, ref: Any) -> bytes:
        if ref.data is not None:
            return ref.data
        return await fetch_image(self.downloads, ref.url, self.options.max_image_bytes)

    def _store(self, batch: list[_Downloaded]) -> list[list[StoredImage] | JobFailed]:
        """In a worker thread: verify and write the batch's images, flushed to disk."""
        return store_batch(self.store.run_dir, [item.images for item in batch], self.options.max_image_pixels)

    def _record(self, batch: list[_Downloaded], outcomes: Sequence[list[StoredImage] | JobFailed]) -> None:
        """On the event loop: complete or fail the batch's jobs in one transaction."""
        with self.store.transaction():
            for item, outcome in zip(batch, outcomes):
                if isinstance(outcome, JobFailed):
                    self._give_up(item.job, item.backend, outcome, item.estimate)
                else:
                    self._complete(item.job, item.submission, item.result, outcome)
                    self.reserved -= item.estimate
        if self.options.on_stored is not None:
            self.options.on_stored()

    # -- budget and bookkeeping -------------------------------------------------------------
    def _reserve(self, estimate: float) -> bool:
        """Hold ``estimate`` USD for a new submission unless it would pass --max-cost."""
        limit = self.options.max_cost
        if self.budget_stopped:
            return False
        if limit is not None:
            total = self.store.total_cost() + self.reserved + estimate
            if total > limit + 1e-9:
                self.budget_stopped = True
                self.progress.console.print(
                    f"[yellow]budget:[/] the next image (~${estimate:.4f}) would bring the total to ${total:.4f}, "
                    f"over --max-cost ${limit:.4f}; no more submissions"
                )
                return False
        self.reserved += estimate
        return True

    def _mark_submitted(self, job_id: str, payload: dict[str, Any], submission: Submission, attempts: int) -> None:
        self.store.update_job(
            job_id,
            state="submitted",
            request_id=submission.request_id,
            request=payload,
            response={"queue": submission.urls},
            attempts=attempts,
            last_error=None,
        )

    def _complete(
        self,
        job: sqlite3.Row,
        submission: Submission,
        result: GenerationResult,
        stored: list[StoredImage],
    ) -> None:
        model = job["model"]
        seed = result.seed if result.seed is not None else job["seed"]
        total = 0.0
        with self.store.transaction() as conn:
            for idx, (item, ref) in enumerate(zip(stored, result.images)):
                image = item.image
                cost = image_cost(model, image.width, image.height, self.study.prices)
                total += cost
                source = ref.url if ref.url and not ref.url.startswith("data:") else None
                image_id = self.store.add_image(
                    job_id=job["id"], sha256=item.sha256, path=item.path, size=len(image.data), fmt=image.format,
                    width=image.width, height=image.height, model=model, seed=seed, cost_usd=cost,
                    source_url=source, idx=idx, conn=conn,
                )
                detail = {"request_id": submission.request_id, "megapixels": billed_megapixels(image.width, image.height)}
                self.store.add_cost("generation", model, cost, job_id=job["id"], image_id=image_id, detail=detail, conn=conn)
            response = {"queue": submission.urls, "result": result.response}
            conn.execute(
                "UPDATE jobs SET state='completed', response=?, cost_usd=?, last_error=NULL,"
                " updated_at=strftime('%Y-%m-%dT%H:%M:%fZ', 'now') WHERE id=?",
                (json.dumps(response), round(total, 6), job["id"]),
            )
        self.summary.completed += 1
        self.summary.images += len(stored)
        self.summary.cost_usd += total
        self._refresh()

    def _fail(self, job_id: str, error: str) -> None:
        self.store.update_job(job_id, state="failed", last_error=error)
        self.summary.failed += 1
        self.summary.errors[job_id] = error
        self._refresh()

    def _retry_note(self, job: sqlite3.Row, step: str) -> Callable[[int, BaseException, float], None]:
        backend = self.backends[job["model"]]

        def note(attempt: int, error: BaseException, wait_s: float) -> None:
            self.summary.retries += 1
            if step == "submit" and getattr(error, "retry_after", None) is not None:  # an account-wide limit
                self.submits_paused_until = max(self.submits_paused_until, time.monotonic() + wait_s)
            message = f"retry {job['id'][:8]} {step} (attempt {attempt}) in {wait_s:.1f} s: {backend.redact(str(error))}"
            self.progress.console.print(Text(message, style="dim"), highlight=False)

        return note

    def _in_flight(self, delta: int) -> None:
        self.in_flight += delta
        self._refresh()

    def _refresh(self, final: bool = False) -> None:
        """Show the counts REFRESH_S after a change (changes meanwhile join it), or now at the end."""
        if final:
            self._show()
        elif not self.refresh_pending:
            self.refresh_pending = True
            asyncio.get_running_loop().call_later(REFRESH_S, self._show)

    def _show(self) -> None:
        self.refresh_pending = False
        elapsed = max(time.perf_counter() - self.started, 1e-6)
        done = self.summary.completed + self.summary.failed + self.summary.skipped
        self.progress.update(
            self.task,
            completed=done,
            failed=self.summary.failed,
            in_flight=self.in_flight,
            rate=self.summary.images / elapsed,
            cost=self.summary.cost_usd,
        )

    def _report(self) -> None:
        s = self.summary
        self.console.print(
            f"generate: {s.completed} completed, {s.failed} failed, {s.skipped} not submitted (budget), "
            f"{s.images} image{'s' if s.images != 1 else ''} in {s.elapsed_s:.1f} s, ${s.cost_usd:.4f} this run, "
            f"${self.store.total_cost():.4f} in total"
        )
        for job_id, error in list(s.errors.items())[:10]:
            self.console.print(f"  failed {job_id}: {error}", markup=False, highlight=False)


def _stored_submission(job: sqlite3.Row) -> Submission | None:
    """The provider request a crashed run left behind, if any."""
    if job["state"] != "submitted" or not job["request_id"] or not job["response"]:
        return None
    urls = json.loads(job["response"]).get("queue") or {}
    return Submission(request_id=job["request_id"], urls=urls)
