"""The verdict table and the consistency checker."""

from __future__ import annotations

from pathlib import Path

import pytest
from test_score_support import build_run, study

from viewfinder.score import build_score_report, report_sentences
from viewfinder.score.verdicts import SCALES, Sentence, check_sentence, check_sentences, check_text, verdict

SEED_CONCLUSION = Path("/work/shared/seed/000_c9bd63d7d045d1a9.txt")


@pytest.mark.parametrize(
    ("value", "word"),
    [
        (0.0, "poor"),
        (0.39, "poor"),
        (0.4, "fair"),
        (0.59, "fair"),
        (0.6, "good"),
        (0.79, "good"),
        (0.8, "very good"),
        (1.0, "very good"),
    ],
)
def test_adherence_thresholds(value: float, word: str) -> None:
    assert verdict("adherence", value) == word


def test_lower_is_better_scale_reads_backwards() -> None:
    assert SCALES["ai_likelihood"].direction == "lower"
    assert verdict("ai_likelihood", 0.1) == "very good"
    assert verdict("ai_likelihood", 0.9) == "poor"
    assert "< 0.20 very good" in SCALES["ai_likelihood"].legend()


def test_kappa_uses_landis_koch_bands() -> None:
    assert [verdict("kappa", v) for v in (-0.1, 0.1, 0.3, 0.5, 0.7, 0.9)] == [
        "poor",
        "slight",
        "fair",
        "moderate",
        "substantial",
        "almost perfect",
    ]


def test_word_is_taken_for_the_printed_number() -> None:
    # 0.3996 prints as 0.40, so its word must be the word of 0.40
    assert verdict("adherence", 0.3996) == "fair"
    assert verdict("adherence", None) is None


def test_checker_catches_the_seed_contradiction() -> None:
    sentence = "Aesthetic Analysis: The model scored 0.13, which is considered very good."
    problem = check_sentence(sentence)
    assert problem is not None and problem.expected == "poor" and problem.word == "very good"
    assert check_sentence("Shot Analysis: The model scored 0.66, which is considered good.") is None
    assert check_sentence("The model scored 0.2, indicating it did not perform well.") is None  # no verdict word


def test_checker_reads_the_seed_post() -> None:
    if not SEED_CONCLUSION.exists():
        pytest.skip("seed post not on this machine")
    problems = check_text(SEED_CONCLUSION.read_text(encoding="utf-8"))
    assert [(p.value, p.word) for p in problems] == [(0.13, "very good")]


def test_checker_uses_the_scale_named_in_the_sentence() -> None:
    assert check_sentence("Aesthetic score (LAION, 1-10) for m scored 6.80 (mean), which is very good.") is None
    problem = check_sentence("Aesthetic score (LAION, 1-10) for m scored 0.80 (mean), which is very good.")
    assert problem is not None and problem.scale == "aesthetic_laion"
    assert check_sentence("Cohen's kappa scored 0.45 (95% CI 0.20-0.70), which is moderate.") is None
    assert check_sentence("Likelihood of AI (0-1) for m scored 0.15, which is poor.") is not None


def test_generated_sentences_are_consistent_and_a_planted_one_is_caught(tmp_path: Path) -> None:
    with build_run(tmp_path) as store:
        report = build_score_report(store.images(), store.measurement_table(), study(), store.spec_records())
    sentences = report_sentences(report)
    scored = [s for s in sentences if s.scale]
    assert len(scored) >= 20
    assert check_sentences(sentences) == []
    assert check_text("\n".join(s.text for s in sentences)) == []
    for sentence in scored:  # every word is the table's word for the stated number
        assert sentence.text.endswith(f"which is {verdict(sentence.scale, sentence.value)}.")

    # plant a contradiction in the data: a rate with the wrong word
    first = report.dimensions[0]
    model = report.models[0]
    wrong = "poor" if first.per_model[model].verdict != "poor" else "very good"
    planted_rate = first.per_model[model].model_copy(update={"verdict": wrong})
    planted = report.model_copy(
        update={
            "dimensions": [
                first.model_copy(update={"per_model": {**first.per_model, model: planted_rate}}),
                *report.dimensions[1:],
            ]
        }
    )
    problems = check_sentences(report_sentences(planted))
    assert len(problems) == 1 and problems[0].word == wrong

    # and a planted free-text sentence in otherwise clean text
    text = "\n".join(s.text for s in sentences) + "\nEmotion adherence scored 0.13, which is very good."
    assert [p.value for p in check_text(text)] == [0.13]


def test_structured_sentence_is_checked_against_its_own_scale() -> None:
    sentence = Sentence(
        text="Judge aesthetic for m scored 0.85 (mean), which is good.", scale="probability", value=0.85
    )
    assert check_sentences([sentence])[0].expected == "very good"


def test_built_report_words_agree_with_its_numbers(tmp_path: Path) -> None:
    """The report (report engineer's build_report) renders only table words for its numbers."""
    from rich.console import Console

    from viewfinder.report import build_report
    from viewfinder.score import run_scoring

    console = Console(file=open(tmp_path / "log.txt", "w"))
    with build_run(tmp_path / "run") as store:
        report = run_scoring(store, study(), console)
        build_report(store, study(), console)
    post = (tmp_path / "run" / "report" / "post.md").read_text(encoding="utf-8")
    claimed = [s for s in report_sentences(report) if s.scale]
    assert sum(s.text in post for s in claimed) == len(claimed)  # every scored sentence is in the post
    assert check_text(post) == []
    planted = post.replace(
        claimed[0].text,
        claimed[0].text.replace(
            f"which is {claimed[0].text.rsplit('which is ', 1)[1]}",
            "which is poor." if not claimed[0].text.endswith("poor.") else "which is very good.",
        ),
    )
    assert len(check_text(planted)) == 1


def test_checker_reads_html_and_keeps_claims_within_their_sentence() -> None:
    html = (
        "<ul><li>Scene adherence for a scored 0.13, which is very good.</li>"
        "<li>Scene adherence for b scored 0.90, which is very good.</li></ul>"
    )
    assert [(p.value, p.expected) for p in check_text(html)] == [(0.13, "poor")]
    # a verdict in the next sentence is not read as this number's verdict
    assert check_text("The model scored 0.2. This is considered very good news for the team.") == []
    # the scale comes from the claim's own sentence
    text = "Cohen's kappa scored 0.45, which is moderate. Scene adherence scored 0.45, which is fair."
    assert check_text(text) == []


def test_structured_sentence_without_a_readable_claim_is_reported() -> None:
    sentence = Sentence(text="Scene adherence for m: 0.50 (fair).", scale="adherence", value=0.5)
    (problem,) = check_sentences([sentence])
    assert problem.word == "(no verdict)" and problem.expected == "fair"
