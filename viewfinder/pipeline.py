"""Generation and analysis at once: each image is analyzed as soon as it is stored.

``viewfinder run`` calls this. Generation keeps the event loop of the main thread; the
analysis follows it in one worker thread (the analyzers' own calls are blocking or run
their own loop), writing to the same store (its connection is shared under a lock). At a
slow provider the judge then works while images are still coming instead of after the last
one. This module sits with the CLI above the stages: it imports both.
"""

from __future__ import annotations

import dataclasses
import threading
from collections.abc import Sequence

from rich.console import Console

from viewfinder.analyze.executors import Executor, make_executor
from viewfinder.analyze.registry import check_names
from viewfinder.analyze.runner import AnalysisSummary, Follow, run_analysis
from viewfinder.generate.runner import GenerateOptions, GenerationSummary, run_generation
from viewfinder.store import RunStore
from viewfinder.study import Study


def generate_and_analyze(
    store: RunStore,
    study: Study,
    options: GenerateOptions,
    analyzers: list[str] | None,
    *,
    judge: str | None,
    console: Console,
    executor: Executor | None = None,
    models: Sequence[str] | None = None,
) -> tuple[GenerationSummary, AnalysisSummary]:
    """Run generation and, alongside it, the analyzers on every image it stores (and on the
    images stored before). With ``--max-cost`` the stages run one after the other instead, so
    that neither passes the budget with money the other has in flight. An analysis error is
    raised once generation has ended; a generation error (or Ctrl-C) at once, keeping
    whatever both stages stored. ``models`` replaces the study's models (``run --model``);
    the analysis runs on ``executor``, by default the one ``options`` names."""
    check_names(list(study.analysis.analyzers if analyzers is None else analyzers))  # before spending
    executor = executor or make_executor(options.executor, study.analysis, options.ray_address)

    def analyze_images(follow: Follow | None) -> AnalysisSummary:
        return run_analysis(
            store,
            study,
            analyzers,
            judge=judge,
            max_cost=options.max_cost,
            allow_unpriced=options.allow_unpriced,
            console=console,
            follow=follow,
            executor=executor,
        )

    if options.max_cost is not None:  # one budget, two stages: each must see what the other has in flight
        generated = run_generation(store, study, options, console, models)
        return generated, analyze_images(None)
    follow = Follow()
    options = dataclasses.replace(options, on_stored=follow.image_stored)
    outcome: dict[str, AnalysisSummary | BaseException] = {}

    def analyze() -> None:
        try:
            outcome["summary"] = analyze_images(follow)
        except BaseException as exc:  # re-raised in the calling thread
            outcome["error"] = exc

    worker = threading.Thread(target=analyze, name="viewfinder-analyze", daemon=True)
    worker.start()
    try:
        generated = run_generation(store, study, options, console, models)
    except BaseException:  # interrupted or fatal: finished batches are stored; do not wait for more
        follow.finish()
        raise
    follow.finish()
    worker.join()
    error = outcome.get("error")
    if isinstance(error, BaseException):
        raise error
    followed = outcome["summary"]
    assert isinstance(followed, AnalysisSummary)
    return generated, followed
