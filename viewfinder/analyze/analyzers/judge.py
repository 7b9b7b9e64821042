"""The VLM judge as an analyzer: card text, moods, errors, AI likelihood and adherence answers.

Each distinct (image file, prompt) pair is judged once per judge model and judge prompt
version: the analyzer ``version`` names both, and answers already stored for the same file
(sha256) and prompt are copied instead of paid for again. The prompt is part of the key
because the adherence answers depend on it (a safety checker's black image is one file for
many prompts). Calls run concurrently with retries; every call's cost goes to
the run's ledger and counts against ``--max-cost``.
"""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from dataclasses import dataclass, field
from typing import Any

from viewfinder.analyze.base import COST_KIND, AnalysisContext, AnalysisResult, Analyzer, CostEntry, ImageItem
from viewfinder.errors import FatalRunError
from viewfinder.judge.answer import AnswerError, FieldReading, read_fields, response_schema
from viewfinder.judge.backend import (
    CallError,
    Conversation,
    EncodedImage,
    JudgeBackend,
    Reply,
    RetryableCallError,
)
from viewfinder.judge.fields import JUDGE_SPECS, SCORED_FIELDS, Row, answer_rows
from viewfinder.judge.pricing import ESTIMATE_USAGE, PRICE_ENV, TokenPrice, price_for
from viewfinder.judge.prompt import PROMPT_VERSION, SYSTEM_PROMPT, correction_text, prompt_record, user_text
from viewfinder.judge.retry import RetryPolicy, call_with_retries
from viewfinder.judge.select import MAX_TOKENS_ENV, choose_backend, env_whole_number
from viewfinder.judge.vqascore import p_yes
from viewfinder.providers.budget import BudgetGuard
from viewfinder.store import Measurement, MeasurementSpec, RunStore
from viewfinder.study.schema import Analysis

CODE_VERSION = "1"
CONCURRENCY_ENV = "VIEWFINDER_JUDGE_CONCURRENCY"
SPEC_NAMES = frozenset(spec.name for spec in JUDGE_SPECS)

Key = tuple[str, str]  # (image sha256, prompt text): what one judge answer is about


@dataclass
class _Outcome:
    rows: list[Row] | None = None
    error: str | None = None
    missing: dict[str, str] = field(default_factory=dict)  # measurement -> why it is not stored


@dataclass
class _Spending:
    """Money of one batch: paid calls (for the ledger) and how many calls are in flight."""

    costs: list[CostEntry] = field(default_factory=list)
    in_flight: int = 0
    settled: asyncio.Condition = field(default_factory=asyncio.Condition)  # a call finished

    @property
    def spent(self) -> float:
        return sum(cost.usd for cost in self.costs)


class JudgeAnalyzer(Analyzer):
    """Ask a vision-language model about every image (see the module docstring)."""

    name = "judge"

    def __init__(
        self,
        settings: Analysis,
        *,
        backend: JudgeBackend | None = None,
        retry: RetryPolicy = RetryPolicy(),
    ) -> None:
        if backend is None:
            concurrency = env_whole_number(CONCURRENCY_ENV, 8, 1, 256, "judge calls in flight")
            choice = choose_backend(settings.judge, max_concurrency=concurrency)
            backend, self.note = choice.backend, choice.note
        else:
            self.note = f"judge: {backend.name}"
        self.backend = backend
        self.retry = retry
        self.batch_size = settings.batch_size
        self.price: TokenPrice | None = price_for(backend.name)
        self.version = f"{CODE_VERSION}/{backend.name}/{PROMPT_VERSION}"
        self._started = False
        self._runner: asyncio.Runner | None = None
        self._typical_cost: float | None = None
        self._budget: BudgetGuard | None = None

    @property
    def specs(self) -> list[MeasurementSpec]:
        return JUDGE_SPECS

    # -- the batch ----------------------------------------------------------------------------
    def analyze(self, batch: list[ImageItem], context: AnalysisContext) -> AnalysisResult:
        self._start(context)
        cached = self._stored_rows(context.store, {item.sha256 for item in batch})
        first_of: dict[Key, ImageItem] = {}
        for item in batch:
            if _key(item) not in cached:
                first_of.setdefault(_key(item), item)
        spending = _Spending()
        outcomes = self._run(self._judge_all(list(first_of.values()), context, spending)) if first_of else {}
        result = AnalysisResult(costs=spending.costs)
        for item in batch:
            key = _key(item)
            if key in cached:
                rows = cached[key]
            else:
                outcome = outcomes[key]
                if outcome.rows is None:
                    result.failures[item.image_id] = outcome.error or "no answer"
                    continue
                rows = outcome.rows
                if outcome.missing:
                    result.missing[item.image_id] = outcome.missing
            result.measurements += [Measurement(item.image_id, name, value, text) for name, value, text in rows]
        return result

    def _run(self, batch: Coroutine[Any, Any, dict[Key, _Outcome]]) -> dict[Key, _Outcome]:
        """Run one batch's calls. Batches share one event loop, so the backend's connections
        (and their TLS sessions) last from the first batch to :meth:`close`."""
        if self._runner is None:
            self._runner = asyncio.Runner()
            self._runner.run(self.backend.start())
        return self._runner.run(batch)

    def close(self) -> None:
        if self._runner is not None:
            try:
                self._runner.run(self.backend.stop())
            finally:
                self._runner.close()
                self._runner = None

    def _start(self, context: AnalysisContext) -> None:
        """Once per run: store the judge prompt with the run and say which judge runs."""
        if self._started:
            return
        self._started = True
        context.store.save_text("judge_prompt", PROMPT_VERSION, prompt_record())
        context.log(f"{self.note}; prompt {PROMPT_VERSION}")
        if self.price is None:
            context.log(
                f"judge {self.backend.name}: no price known, its calls are recorded at $0 and "
                f"--max-cost cannot limit them; set {PRICE_ENV}=<input>,<output> USD per million tokens"
            )

    def _stored_rows(self, store: RunStore, hashes: set[str]) -> dict[Key, list[Row]]:
        """Answers this judge version already gave for the same image files and prompts."""
        source: dict[Key, int] = {}
        out: dict[Key, list[Row]] = {}
        for row in store.cached_answers(self.name, self.version, hashes):
            key = (row.sha256, row.prompt_text)
            if source.setdefault(key, row.image_id) == row.image_id:
                out.setdefault(key, []).append((row.name, row.value, row.text))
        return out

    # -- the calls ----------------------------------------------------------------------------
    async def _judge_all(
        self, items: list[ImageItem], context: AnalysisContext, spending: _Spending
    ) -> dict[Key, _Outcome]:
        """Judge ``items`` concurrently; on a fatal error, ledger what was paid, then raise."""
        limit = asyncio.Semaphore(max(1, min(self.backend.max_concurrency, len(items))))
        try:
            async with asyncio.TaskGroup() as group:
                tasks = {
                    _key(item): group.create_task(self._judge_one(item, context, limit, spending)) for item in items
                }
        except BaseExceptionGroup as group:
            _ledger(context.store, spending.costs)
            fatal = [error for error in group.exceptions if isinstance(error, FatalRunError)]
            raise (fatal or group.exceptions)[0] from None
        return {key: task.result() for key, task in tasks.items()}

    async def _judge_one(
        self, item: ImageItem, context: AnalysisContext, limit: asyncio.Semaphore, spending: _Spending
    ) -> _Outcome:
        """Ask once; ask again only when a field that scoring reads is missing or invalid.

        The answer with the fewest problems is kept field by field: valid fields are stored,
        the others are recorded as missing with their reason."""
        outcome = _Outcome()
        try:
            image = EncodedImage.read(item.path)
        except (OSError, ValueError) as exc:
            outcome.error = f"cannot read the image file {item.path.name}: {exc}"
            return outcome
        conversation = Conversation(
            system=SYSTEM_PROMPT,
            user=user_text(item.fields.get("scene", ""), item.fields.get("style", "")),
            image=image,
            schema=response_schema(),
        )
        best: tuple[FieldReading, Reply] | None = None
        async with limit:
            for round_number in (1, 2):
                called = await self._call(conversation, context, spending, outcome)
                if called is None:
                    break
                reply, attempts, estimate = called
                reading, problem = self._read(reply)
                self._record(item, reply, attempts, spending, usable=reading is not None and _usable(reading))
                await self._settle(spending, estimate)
                if reading is None and (reply.refusal or reply.finish_reason == "length"):
                    outcome.error = problem
                    break
                if reading is not None:
                    if best is None or len(reading.problems) < len(best[0].problems):
                        best = (reading, reply)
                    scored = sorted(reading.problems.keys() & SCORED_FIELDS)
                    if not scored:
                        break
                    problem = reading.problem_text()
                outcome.error = f"invalid answer after one retry: {problem}"
                if round_number == 1:
                    content = reply.content or ""
                    conversation = conversation.followed_by(("assistant", content), ("user", correction_text(problem)))
        if best is not None and _usable(best[0]):
            reading, reply = best
            outcome.error = None
            outcome.rows = answer_rows(
                reading.answer,
                self.backend.name,
                scene_p_yes=_p_yes(reading, reply, "scene_match"),
                style_p_yes=_p_yes(reading, reply, "style_match"),
            )
            outcome.missing = {name: reason for name, reason in reading.problems.items() if name in SPEC_NAMES}
        return outcome

    @staticmethod
    def _read(reply: Reply) -> tuple[FieldReading | None, str]:
        """The reply read field by field, or None and why nothing in it is usable."""
        if reply.refusal:
            return None, f"the judge refused: {reply.refusal[:300]}"
        if reply.finish_reason == "length":
            return None, (
                f"the judge's answer was cut off at its token limit; raise {MAX_TOKENS_ENV} "
                "(reasoning models spend tokens before they answer)"
            )
        try:
            return read_fields(reply.content or ""), ""
        except AnswerError as exc:
            return None, str(exc)

    async def _call(
        self, conversation: Conversation, context: AnalysisContext, spending: _Spending, outcome: _Outcome
    ) -> tuple[Reply, int, float] | None:
        """One call with retries within budget: the reply, its attempts and the money held for
        it (release it with :meth:`_settle`); None (with ``outcome.error``) when it fails."""
        estimate = await self._reserve(context, spending)
        if estimate is None:
            guard = self._guard(context, spending)
            left = (guard.limit or 0.0) - guard.spent() - guard.reserved
            outcome.error = f"not judged: the --max-cost budget is spent (${max(left, 0):.4f} left)"
            return None
        try:
            reply, attempts = await call_with_retries(self.backend, conversation, self.retry, context.log)
        except (RetryableCallError, CallError) as exc:
            outcome.error = (
                f"judge call failed after {self.retry.attempts} attempts: {exc}"
                if isinstance(exc, RetryableCallError)
                else f"judge call failed: {exc}"
            )
            await self._settle(spending, estimate)
            return None
        except BaseException:
            await self._settle(spending, estimate)
            raise
        return reply, attempts, estimate

    def _guard(self, context: AnalysisContext, spending: _Spending) -> BudgetGuard:
        """The run's --max-cost guard: the ledger plus this batch's calls not in it yet."""
        if self._budget is None:
            self._budget = BudgetGuard(context.max_cost_usd, lambda: context.store.total_cost())
        self._budget.spent = lambda: context.store.total_cost() + spending.spent
        return self._budget

    async def _reserve(self, context: AnalysisContext, spending: _Spending) -> float | None:
        """Hold one call's estimated cost; None when the budget cannot cover it.

        While other calls are in flight a tight budget waits for them: their real costs
        (and the estimate learnt from them) decide whether one more call fits.
        """
        guard = self._guard(context, spending)
        async with spending.settled:
            while True:
                estimate = self._estimate()
                if guard.fits(estimate):
                    guard.hold(estimate)
                    spending.in_flight += 1
                    return estimate
                if spending.in_flight == 0:
                    return None
                await spending.settled.wait()

    async def _settle(self, spending: _Spending, estimate: float) -> None:
        """A call ended (its cost, if any, is in ``spending`` now): release its estimate."""
        async with spending.settled:
            if self._budget is not None:
                self._budget.release(estimate)
            spending.in_flight -= 1
            spending.settled.notify_all()

    def _record(self, item: ImageItem, reply: Reply, attempts: int, spending: _Spending, *, usable: bool) -> None:
        """Book one call as the API reports it: its usage times the price. Without reported
        usage a usable answer is booked at the estimate (marked so), an unusable one at $0."""
        reported = reply.usage.prompt_tokens or reply.usage.completion_tokens or reply.usage.reported_usd is not None
        if reported:
            usd, note = (self.price.cost(reply.usage) if self.price else 0.0), ""
            self._typical_cost = max(usd, self._typical_cost or 0.0)
        elif usable:
            usd, note = (self.price.cost(ESTIMATE_USAGE) if self.price else 0.0), ", usage not reported: estimated"
        else:
            usd, note = 0.0, ", usage not reported and nothing usable: not charged"
        spending.costs.append(
            CostEntry(
                model=self.backend.name,
                usd=usd,
                image_id=item.image_id,
                detail={
                    "prompt_tokens": reply.usage.prompt_tokens,
                    "completion_tokens": reply.usage.completion_tokens,
                    "attempts": attempts,
                    "price": (self.price.source if self.price else "unknown") + note,
                    **reply.provenance,
                },
            )
        )

    def _estimate(self) -> float:
        if self.price is None:
            return 0.0
        return self._typical_cost if self._typical_cost else self.price.cost(ESTIMATE_USAGE)


def _usable(reading: FieldReading) -> bool:
    """Whether an answer holds a valid answer to at least one question scoring reads; one
    without any (a title and nothing else, say) is a failure, not an answer with gaps."""
    return not SCORED_FIELDS <= reading.problems.keys()


def _p_yes(reading: FieldReading, reply: Reply, name: str) -> float | None:
    """P(yes) of a match question from the token log probabilities, when its answer is valid."""
    if getattr(reading.answer, name) is None:
        return None
    return p_yes(reply.content or "", reply.logprobs, name)


def _ledger(store: RunStore, costs: list[CostEntry]) -> None:
    """Record paid calls of a batch that will not be returned (the run is stopping)."""
    with store.transaction():
        for cost in costs:
            store.add_cost(COST_KIND, cost.model, cost.usd, image_id=cost.image_id, detail=cost.detail)


def _key(item: ImageItem) -> Key:
    return (item.sha256, item.prompt_text)
