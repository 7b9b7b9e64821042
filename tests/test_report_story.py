"""The headline, lead and conclusion say only what the numbers say.

Every sentence built from numbers is held against the numbers it states, with the rules
re-derived here from the score report (not from the code under test): a verdict word is the
threshold table's word for the rate; "uncertain" exactly where the methods for a dimension
disagree (95% intervals apart, or kappa below 0.4); "better" only with a significant paired test.
"""

from __future__ import annotations

import re

import pytest
from report_fixture import agreeing, make_run, model_better, opposite
from rich.console import Console

from viewfinder.report import build_report
from viewfinder.report.names import dimension_name, model_name, num
from viewfinder.report.story import Claim, Story, conclusion, headline
from viewfinder.score import check_text, load_score_report, verdict
from viewfinder.score.model import Agreement, Rate, ScoreReport

QUIET = Console(quiet=True)
SCHNELL, DEV = "fal:fal-ai/flux/schnell", "fal:fal-ai/flux/dev"


def rates(report: ScoreReport, dim: str, model: str) -> list[Rate]:
    return [
        d.per_model[model]
        for d in report.dimensions
        if d.dimension == dim and model in d.per_model and d.per_model[model].rate is not None
    ]


def one_answer(a: Agreement) -> bool:
    rows = [sum(r) for r in a.matrix]
    cols = [sum(c) for c in zip(*a.matrix, strict=True)] if a.matrix else []
    return sum(1 for n in rows if n) <= 1 or sum(1 for n in cols if n) <= 1


def disagree(report: ScoreReport, dim: str, model: str) -> bool:
    found = rates(report, dim, model)
    if len(found) < 2:
        return False
    apart = any(a.ci_high < b.ci_low or b.ci_high < a.ci_low for a in found for b in found)  # type: ignore[operator]
    agreement = next((a for a in report.agreements if a.dimension == dim and a.basis == "adherence"), None)
    low = agreement is not None and agreement.kappa is not None and not one_answer(agreement) and agreement.kappa < 0.4
    return apart or low


def significant(report: ScoreReport, dim: str, winner: str, loser: str) -> bool:
    for c in report.comparisons:
        if (
            c.kind == "binary"
            and c.target.startswith(dim + "/")
            and c.significant
            and {c.model_a, c.model_b} == {winner, loser}
        ):
            return (c.value_a > c.value_b) == (c.model_a == winner)  # type: ignore[operator]
    return False


def check_claim(report: ScoreReport, claim: Claim) -> None:
    assert check_text(claim.text) == [], claim.text
    if claim.kind == "verdict":
        (model,) = claim.models
        assert not disagree(report, claim.dimension, model), claim.text
        stated = claim.values[0]
        assert stated in [r.rate for r in rates(report, claim.dimension, model)]
        assert claim.word == verdict("adherence", stated)
        assert re.search(rf"scored {re.escape(num(stated))} \(.*\), which is {claim.word}[.;]", claim.text)
        assert claim.text.startswith(dimension_name(claim.dimension).capitalize() + ": " + model_name(model))
    elif claim.kind == "uncertain" and len(claim.models) == 1:
        (model,) = claim.models
        assert disagree(report, claim.dimension, model), claim.text
        assert "is uncertain" in claim.text and not re.search(r"which is \w", claim.text)
        for value in claim.values:
            assert value in [r.rate for r in rates(report, claim.dimension, model)] and num(value) in claim.text
    elif claim.kind == "better":
        winner, loser = claim.models
        assert significant(report, claim.dimension, winner, loser), claim.text
        said = f"{model_name(winner)} follows {dimension_name(claim.dimension)} better than {model_name(loser)}"
        assert said in claim.text
    elif claim.kind == "alike":
        assert not any(c.significant for c in report.comparisons if c.kind == "binary")
    for word in ("better", "worse"):
        if claim.kind not in ("better", "alike", "overall"):
            assert word not in claim.text.replace("higher is better", "").replace("lower is better", ""), claim.text


def check_story(report: ScoreReport, story: Story) -> None:
    """Every claim against its numbers, and every disagreement said as uncertain (never a verdict)."""
    for claim in story.conclusion:
        check_claim(report, claim)
    for dim in dict.fromkeys(d.dimension for d in report.dimensions):
        for model in report.models:
            about = [c for c in story.conclusion if c.dimension == dim and c.models == (model,)]
            if disagree(report, dim, model):
                assert [c.kind for c in about] == ["uncertain"], (dim, model, about)
                assert dimension_name(dim) in story.title.split(";")[-1] or len(report.models) > 1
            elif rates(report, dim, model):
                assert [c.kind for c in about] == ["verdict"], (dim, model, about)
    uses_better = " better than " in story.title
    assert uses_better == any(c.kind == "better" for c in story.conclusion)
    for overall in (c for c in story.conclusion if c.kind == "overall"):
        for winner, loser in re.findall(r"(FLUX\.1 \[\w+\]) follows .*? better than (FLUX\.1 \[\w+\])", overall.text):
            backed = [c for c in story.conclusion if c.kind == "better"]
            assert any(tuple(map(model_name, c.models)) == (winner, loser) for c in backed)


def story_of(report: ScoreReport, topic: str = "facial-expressions") -> Story:
    return Story(headline(report, report.models, topic), [], conclusion(report))


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory):
    """Reports of the fixture runs, by name: (score report, post.md, index.html)."""
    cases = {
        "one model": dict(models=[SCHNELL], answers=agreeing, seeds=3),
        "several models": dict(),
        "disagreeing methods": dict(models=[SCHNELL], answers=opposite, seeds=3),
        "one model better": dict(answers=model_better(DEV), seeds=6),
        "no judge": dict(models=[SCHNELL], judge="none", answers=agreeing),
        "failed judge": dict(models=[SCHNELL], judge="failed", answers=agreeing),
    }
    out = {}
    for name, options in cases.items():
        run_dir = tmp_path_factory.mktemp(name.replace(" ", "-"))
        store, study = make_run(run_dir, **options)  # type: ignore[arg-type]
        with store:
            build_report(store, study, QUIET)
            report = load_score_report(store)
        folder = run_dir / "report"
        out[name] = (report, (folder / "post.md").read_text(), (folder / "index.html").read_text())
    return out


@pytest.mark.parametrize(
    "case", ["one model", "several models", "disagreeing methods", "one model better", "no judge", "failed judge"]
)
def test_every_sentence_matches_its_numbers(built, case: str) -> None:
    report, md, html = built[case]
    story = story_of(report)
    check_story(report, story)
    assert md.startswith(f"# {story.title.replace('[', chr(92) + '[').replace(']', chr(92) + ']')}\n")
    assert check_text(md.replace("\\", "")) == []
    conclusion_md = md[md.index("## Conclusion") : md.index("\n## ", md.index("## Conclusion") + 5)]
    assert "Overall, " in conclusion_md or not story.conclusion


def test_one_model_headline_names_what_it_gets_right_and_misses(built) -> None:
    report, md, _ = built["one model"]
    title = story_of(report).title
    assert title.startswith("FLUX.1 [schnell] gets ") and "uncertain" not in title
    for dim in dict.fromkeys(d.dimension for d in report.dimensions):
        (rate,) = {r.verdict for r in rates(report, dim, SCHNELL)}
        said = dimension_name(dim)
        if rate in ("good", "very good"):
            assert said in title.split(" but ")[0]
        elif rate == "poor":
            assert said in title.split(" misses ")[1]
    assert "Models compared" not in md and "model(s)" not in md and "1 model" not in md


def test_disagreeing_methods_make_the_measure_uncertain(built) -> None:
    report, md, html = built["disagreeing methods"]
    judge, faces = rates(report, "camera_angle", SCHNELL)
    assert judge.ci_low > faces.ci_high  # the fixture: the judge always follows, the faces never
    story = story_of(report)
    assert "the camera angle is uncertain" in story.title
    (claim,) = [c for c in story.conclusion if c.dimension == "camera_angle"]
    assert claim.kind == "uncertain" and "95% intervals do not overlap" in claim.text
    # the judge said "follows" for every image: kappa says nothing, and the report says why
    assert "could not be measured because the VLM judge gave the same answer (“follows”)" in md


def test_several_models_are_compared_only_where_the_test_says_so(built) -> None:
    report, md, _ = built["several models"]
    story = story_of(report)
    assert not any(c.significant for c in report.comparisons)
    assert " better than " not in story.title and any(c.kind == "alike" for c in story.conclusion)
    assert "### Models compared" in md
    report, md, _ = built["one model better"]
    story = story_of(report)
    assert story.title.startswith("FLUX.1 [dev] follows the camera angle better than FLUX.1 [schnell]")
    (better,) = [c for c in story.conclusion if c.kind == "better"]
    assert better.models == (DEV, SCHNELL)


def test_cards_say_why_they_have_no_title(built) -> None:
    _, md, html = built["failed judge"]
    assert "(no judge title)" not in md and "(no judge title)" not in html
    assert (
        md.count(
            "*No title: the judge analyzer failed: HTTP 503 from the judge API after 4 tries: upstream "
            "\\<b\\>overloaded\\</b\\>*"
        )
        == 8
    )
    assert "## Jealousy: Lonely and envious\n" in md  # the heading falls back to the prompt's emotion and variant
    _, md, html = built["no judge"]
    assert md.count("*No title: no judge ran on this study's images (titles come from the VLM judge).*") == 8
    assert "Judges: none" in md


def test_numbers_read_as_words(built) -> None:
    for _, md, _ in built.values():
        assert not re.search(r"\d-[-−]\d|\d--\d", md), "a range reads 'a to b'"
        assert not re.search(r"\(s\)", md)
        assert "could not be measured: " not in md  # always "because ..."
        assert "is 0.00 at every" not in md and " at every category value" not in md
