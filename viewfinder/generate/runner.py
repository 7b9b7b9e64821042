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
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import partial
from typing import Any

from rich.console import Console
from rich.text import Text

from viewfinder.errors import FatalRunError, ItemFailed, RequestUnknown, RetryableError
from viewfinder.generate.backend import Backend
from viewfinder.generate.batching import Batcher
from viewfinder.generate.options import GenerateOptions
from viewfinder.generate.plan import jobs_for_run
from viewfinder.generate.progress import (
    UNPRICED,
    GenerationProgress,
    GenerationSummary,
    dry_run_summary,
    print_summary,
)
from viewfinder.generate.registry import make_backend, split_model
from viewfinder.generate.spending import generation_limit
from viewfinder.providers.budget import BudgetGuard, check_max_cost, require_prices
from viewfinder.providers.download import (
    StoredImage,
    fetch_image,
    store_batch,
)
from viewfinder.providers.http import new_session
from viewfinder.providers.pricing import billed_megapixels, estimate_job_cost, has_price, image_cost
from viewfinder.providers.retry import with_retries
from viewfinder.providers.types import BackendSettings, GenerationRequest, GenerationResult, Submission
from viewfinder.store import JobRecord, NewImage, RunStore
from viewfinder.study import Study

MAX_RESUBMITS = 3
STORE_LINGER_S = 0.1  # downloaded images gather this long, then share one flush and commit


@dataclass(frozen=True)
class _Downloaded:
    """A job whose images are downloaded, waiting for its batch to be stored and recorded."""

    job: JobRecord
    backend: Backend
    submission: Submission
    result: GenerationResult
    images: list[bytes]
    estimate: float


def run_generation(
    store: RunStore | None,
    study: Study,
    options: GenerateOptions,
    console: Console,
    models: Sequence[str] | None = None,
) -> GenerationSummary:
    """Make the images of this run's jobs (``models``, default the study's) not made yet; print
    progress to ``console``; return the summary. A dry run writes nothing (``store`` may be a
    read-only one, or None for a folder not made yet)."""
    check_max_cost(options.max_cost)
    jobs = jobs_for_run(store, study, models, options.limit, dry_run=options.dry_run, console=console)
    estimates = {job.id: estimate_job_cost(job.model, job.params, study.prices) for job in jobs}
    unpriced = sorted({job.model for job in jobs if not has_price(job.model, study.prices)})
    if options.max_cost is not None and not options.allow_unpriced:
        require_prices(unpriced, options.judge)
    to_judge = 0  # images the planned judge pass will see: these jobs' and stored ones not judged yet
    if options.judge is not None:
        unjudged = store.image_count() - len(store.analyzed_image_ids("judge")) if store is not None else 0
        to_judge = len(jobs) + unjudged
    if options.dry_run or store is None:
        spent = store.total_cost() if store is not None else 0.0
        return dry_run_summary(jobs, estimates, spent, console, unpriced, options.judge, to_judge)
    if not jobs:
        console.print("generate: every job is already completed")
        return GenerationSummary()
    limit = generation_limit(options.max_cost, options.judge, to_judge, console)
    return asyncio.run(_Generation(store, study, options, console, jobs, estimates, limit, unpriced).run())


class _Generation:
    """One asyncio run over the selected jobs."""

    def __init__(
        self,
        store: RunStore,
        study: Study,
        options: GenerateOptions,
        console: Console,
        jobs: list[JobRecord],
        estimates: dict[str, float],
        limit: float | None,
        unpriced: list[str],
    ) -> None:
        self.store, self.study, self.options, self.console = store, study, options, console
        self.jobs, self.estimates = jobs, estimates
        self.summary = GenerationSummary(
            planned=len(jobs), estimated_cost_usd=round(sum(estimates.values()), 6), unpriced=unpriced
        )
        self.budget = BudgetGuard(limit, store.total_cost)
        self.view = GenerationProgress(self.summary, console)
        self.submits_paused_until = 0.0
        self.fatal: FatalRunError | None = None
        self.backends: dict[str, Backend] = {}

    async def run(self) -> GenerationSummary:
        o = self.options
        settings = BackendSettings(o.timeout_s, o.concurrency, o.poll_interval_s, o.executor, o.ray_address)
        for model in dict.fromkeys(job.model for job in self.jobs):
            split_model(model)
            self.backends[model] = make_backend(model, settings)
        self.downloads = new_session(self.options.timeout_s, self.options.concurrency + 8)
        self.finishing: set[asyncio.Task[None]] = set()
        self.finishing_slots = asyncio.Semaphore(self.options.concurrency)
        self.storing: Batcher[_Downloaded, list[StoredImage] | ItemFailed] = Batcher(
            self._store, self._record, linger_s=STORE_LINGER_S
        )
        queue: asyncio.Queue[JobRecord] = asyncio.Queue()
        for job in self.jobs:
            if job.state == "submitted":
                self.budget.hold(self.estimates[job.id])
            queue.put_nowait(job)
        try:
            with self.view:
                workers = [asyncio.create_task(self._worker(queue)) for _ in range(self.options.concurrency)]
                self.workers = workers
                outcomes = await asyncio.gather(*workers, return_exceptions=True)
                self.storing.hurry()  # no job is left to submit: the last images need no company
                outcomes += await asyncio.gather(*self.finishing, return_exceptions=True)
                self.view.refresh(final=True)
        finally:
            await self.downloads.close()
            for backend in self.backends.values():
                await backend.aclose()
        self.summary.elapsed_s = self.view.elapsed_s()
        self.summary.cost_usd = round(self.summary.cost_usd, 6)
        if self.fatal is not None:
            raise self.fatal
        for outcome in outcomes:
            if isinstance(outcome, Exception):
                raise outcome
        print_summary(self.summary, self.store.total_cost(), self.console, self.store.failure_groups())
        return self.summary

    async def _worker(self, queue: asyncio.Queue[JobRecord]) -> None:
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
    async def _job(self, job: JobRecord) -> None:
        """Hold a provider slot from submit until the result is known; the image download and
        storage then run alongside, so the slot serves the next job at once."""
        backend = self.backends[job.model]
        estimate = self.estimates[job.id]
        submission = _stored_submission(job)
        if submission is None and not self._reserve(estimate):
            self.summary.skipped += 1
            return
        self.view.add_in_flight(+1)
        try:
            submission, result = await self._generate(backend, job, submission)
        except (ItemFailed, RetryableError) as exc:
            self._give_up(job, backend, exc, estimate)
            return
        except BaseException:
            self.budget.release(estimate)
            raise
        finally:
            self.view.add_in_flight(-1)
        await self.finishing_slots.acquire()
        task = asyncio.create_task(self._finish(job, backend, submission, result, estimate))
        self.finishing.add(task)
        task.add_done_callback(self.finishing.discard)

    async def _generate(
        self, backend: Backend, job: JobRecord, submission: Submission | None
    ) -> tuple[Submission, GenerationResult]:
        """Submit (unless a stored request is still known) and wait for the result."""
        request = GenerationRequest(
            job_id=job.id,
            model_id=split_model(job.model)[1],
            prompt=job.prompt_text,
            seed=job.seed,
            params=job.params,
        )
        attempts = job.attempts
        for _ in range(MAX_RESUBMITS + 1):
            if submission is None:
                submission = await self._submit(backend, request, job)
                attempts += 1
                self._mark_submitted(job.id, backend.payload(request), submission, attempts)
            try:
                return submission, await self._wait(backend, submission, job)
            except RequestUnknown:
                submission = None
        raise ItemFailed(f"the provider lost the request {MAX_RESUBMITS + 1} times")

    async def _submit(self, backend: Backend, request: GenerationRequest, job: JobRecord) -> Submission:
        """Submit with retries; a Retry-After from the provider pauses every worker's submits."""

        async def attempt() -> Submission:
            pause = self.submits_paused_until - time.monotonic()
            if pause > 0:
                await asyncio.sleep(pause)
            return await backend.submit(request)

        return await with_retries(attempt, self.options.retry, self._retry_note(job, "submit"))

    async def _finish(
        self,
        job: JobRecord,
        backend: Backend,
        submission: Submission,
        result: GenerationResult,
        estimate: float,
    ) -> None:
        """Download the images, free the slot, then hand them to the batch that verifies,
        stores, flushes and records them (each job's rows in the batch's one transaction):
        the batch's wait for company holds no slot."""
        try:
            images = []
            for ref in result.images:
                images.append(
                    await with_retries(
                        partial(self._download, ref), self.options.retry, self._retry_note(job, "download")
                    )
                )
        except (ItemFailed, RetryableError) as exc:
            self._give_up(job, backend, exc, estimate)
            return
        finally:
            self.finishing_slots.release()
        await self.storing.put(_Downloaded(job, backend, submission, result, images, estimate))

    def _give_up(self, job: JobRecord, backend: Backend, error: Exception, estimate: float) -> None:
        prefix = "gave up after retries: " if isinstance(error, RetryableError) else ""
        self._fail(job.id, backend.redact(prefix + str(error)))
        self.budget.release(estimate)

    async def _wait(self, backend: Backend, submission: Submission, job: JobRecord) -> GenerationResult:
        try:
            async with asyncio.timeout(self.options.job_timeout_s):
                return await with_retries(
                    lambda: backend.wait(submission), self.options.retry, self._retry_note(job, "wait")
                )
        except TimeoutError:
            cancelled = await backend.cancel(submission)
            raise ItemFailed(
                f"no result after {self.options.job_timeout_s:g} s; "
                + ("the request was cancelled" if cancelled else "cancelling it failed")
            ) from None

    async def _download(self, ref: Any) -> bytes:
        if ref.data is not None:
            return ref.data
        return await fetch_image(self.downloads, ref.url, self.options.max_image_bytes)

    def _store(self, batch: list[_Downloaded]) -> list[list[StoredImage] | ItemFailed]:
        """In a worker thread: verify and write the batch's images, flushed to disk."""
        return store_batch(self.store.run_dir, [item.images for item in batch], self.options.max_image_pixels)

    def _record(self, batch: list[_Downloaded], outcomes: Sequence[list[StoredImage] | ItemFailed]) -> None:
        """On the event loop: complete or fail the batch's jobs in one transaction."""
        with self.store.transaction():
            for item, outcome in zip(batch, outcomes, strict=True):
                if isinstance(outcome, ItemFailed):
                    self._give_up(item.job, item.backend, outcome, item.estimate)
                else:
                    self._complete(item.job, item.submission, item.result, outcome)
                    self.budget.release(item.estimate)
        if self.options.on_stored is not None:
            self.options.on_stored()

    # -- budget and bookkeeping -------------------------------------------------------------
    def _reserve(self, estimate: float) -> bool:
        """Hold ``estimate`` USD for a new submission unless it would pass --max-cost."""
        if self.budget.stopped:
            return False
        if self.budget.reserve(estimate):
            return True
        self.view.note(
            f"[yellow]budget:[/] the next image (~${estimate:.4f}) would bring the total to "
            f"${self.budget.total_with(estimate):.4f}, "
            + (
                f"over --max-cost ${self.options.max_cost:.4f}; no more submissions"
                if self.budget.limit == self.options.max_cost
                else f"over generation's share ${self.budget.limit:.4f} of --max-cost ${self.options.max_cost:.4f} "
                "(the rest is kept for the judge); no more submissions"
            )
        )
        return False

    def _mark_submitted(self, job_id: str, payload: dict[str, Any], submission: Submission, attempts: int) -> None:
        self.store.mark_submitted(
            job_id,
            request_id=submission.request_id,
            request=payload,
            response={"queue": submission.urls},
            attempts=attempts,
        )

    def _complete(
        self,
        job: JobRecord,
        submission: Submission,
        result: GenerationResult,
        stored: list[StoredImage],
    ) -> None:
        model = job.model
        files = []
        for item, ref in zip(stored, result.images, strict=False):
            image = item.image
            files.append(
                NewImage(
                    sha256=item.sha256,
                    path=item.path,
                    size=len(image.data),
                    fmt=image.format,
                    width=image.width,
                    height=image.height,
                    cost_usd=image_cost(model, image.width, image.height, self.study.prices),
                    source_url=ref.url if ref.url and not ref.url.startswith("data:") else None,
                    detail={
                        "request_id": submission.request_id,
                        "megapixels": billed_megapixels(image.width, image.height),
                        **({"price": UNPRICED} if model in self.summary.unpriced else {}),
                    },
                )
            )
        seed = result.seed if result.seed is not None else job.seed
        self.store.record_generation(
            job, files, seed=seed, response={"queue": submission.urls, "result": result.response}
        )
        total = sum(f.cost_usd for f in files)
        self.summary.completed += 1
        self.summary.images += len(stored)
        self.summary.cost_usd += total
        self.view.refresh()

    def _fail(self, job_id: str, error: str) -> None:
        self.store.fail_job(job_id, error)
        self.summary.failed += 1
        self.summary.errors[job_id] = error
        self.view.refresh()

    def _retry_note(self, job: JobRecord, step: str) -> Callable[[int, BaseException, float], None]:
        backend = self.backends[job.model]

        def note(attempt: int, error: BaseException, wait_s: float) -> None:
            self.summary.retries += 1
            if step == "submit" and getattr(error, "retry_after", None) is not None:  # an account-wide limit
                self.submits_paused_until = max(self.submits_paused_until, time.monotonic() + wait_s)
            message = f"retry {job.id[:8]} {step} (attempt {attempt}) in {wait_s:.1f} s: {backend.redact(str(error))}"
            self.view.note(Text(message, style="dim"))

        return note


def _stored_submission(job: JobRecord) -> Submission | None:
    """The provider request a crashed run left behind, if any."""
    if job.state != "submitted" or not job.request_id or not job.response:
        return None
    urls = job.response.get("queue") or {}
    return Submission(request_id=job.request_id, urls=urls)
