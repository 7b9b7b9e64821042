"""The judge's parts: answer schema, data block, P(yes), price table and judge choice."""

from __future__ import annotations

import json
import math
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.servers.openai_server import good_answer
from viewfinder.errors import BadInput
from viewfinder.judge.answer import (
    EXPRESSION_CHOICES,
    AnswerError,
    JudgeAnswer,
    parse_answer,
    response_schema,
)
from viewfinder.judge.pricing import price_for
from viewfinder.judge.prompt import DATA_CLOSE, DATA_OPEN, PROMPT_VERSION, data_block, prompt_record
from viewfinder.judge.select import choose_backend
from viewfinder.judge.vqascore import p_yes
from viewfinder.providers.chat import TokenLogprob, Usage, sniff_mime
from viewfinder.providers.retry import retry_after as retry_after_seconds
from viewfinder.study.vocabulary import CAMERA_ANGLES, EXPRESSIONS, SHOT_SIZES


def test_the_wire_schema_is_strict_and_matches_the_pydantic_answer() -> None:
    schema = response_schema()
    assert schema["additionalProperties"] is False
    assert schema["required"] == list(schema["properties"]) == list(JudgeAnswer.model_fields)
    props = schema["properties"]
    assert props["camera_angle"]["enum"] == [*CAMERA_ANGLES, "unclear"]
    assert props["shot_size"]["enum"] == [*SHOT_SIZES, "unclear"]
    assert props["expression"]["enum"] == [*EXPRESSIONS, "no face"] == list(EXPRESSION_CHOICES)
    assert props["scene_match"]["enum"] == ["yes", "no"]


def test_answers_are_validated_with_messages_that_name_the_field() -> None:
    answer = parse_answer("```json\n" + json.dumps(good_answer()) + "\n```")
    assert answer.moods == ["mysterious", "alluring", "intimate"]
    cases = {
        "aesthetic": good_answer(aesthetic=1.5),
        "moods": good_answer(moods=["a", "b", "c", "d", "e", "f"]),
        "camera_angle": good_answer(camera_angle="sideways"),
        "ai_likelihood": good_answer(ai_likelihood="high"),
        "extra": {**good_answer(), "extra": "field"},
    }
    for field, data in cases.items():
        with pytest.raises(AnswerError, match=field):
            parse_answer(json.dumps(data))
    with pytest.raises(AnswerError, match="no JSON object"):
        parse_answer("I cannot see an image.")
    with pytest.raises(AnswerError, match="not one JSON object"):
        parse_answer("[1, 2]")


def test_one_to_five_moods_are_accepted_and_the_schema_says_so() -> None:
    for count in (1, 2, 5):
        assert len(parse_answer(json.dumps(good_answer(moods=["calm"] * count))).moods) == count
    for count in (0, 6):
        with pytest.raises(AnswerError, match="moods"):
            parse_answer(json.dumps(good_answer(moods=["calm"] * count)))
    moods = response_schema()["properties"]["moods"]
    assert (moods["minItems"], moods["maxItems"]) == (1, 5)


def test_near_misses_from_models_without_a_schema_are_canonicalised() -> None:
    answer = parse_answer(
        json.dumps(
            good_answer(
                camera_angle="Eye level",
                shot_size="Medium Shot",
                expression="Happy",
                scene_match="Yes",
                style_match=False,
                moods="Tense, lonely , dark",
            )
        )
    )
    assert (answer.camera_angle, answer.shot_size, answer.expression) == ("eye-level", "medium", "happiness")
    assert (answer.scene_match, answer.style_match) == ("yes", "no")
    assert answer.moods == ["tense", "lonely", "dark"]
    assert parse_answer(json.dumps(good_answer(face_visible=False, expression="No_Face"))).expression == "no face"
    with pytest.raises(AnswerError, match="camera_angle"):
        parse_answer(json.dumps(good_answer(camera_angle="from the left")))


def test_gating_no_face_is_never_an_expression() -> None:
    for hidden in (False, "false", "no", 0):
        assert parse_answer(json.dumps(good_answer(face_visible=hidden, expression="fear"))).expression == "no face"
    with pytest.raises(AnswerError, match="face_visible is true"):
        parse_answer(json.dumps(good_answer(face_visible=True, expression="no face")))


@settings(max_examples=200, deadline=None)
@given(st.text())
def test_no_prompt_text_can_leave_the_data_block(text: str) -> None:
    block = data_block(text, text)
    assert block.startswith(DATA_OPEN + "\n") and block.endswith("\n" + DATA_CLOSE)
    inner = block[len(DATA_OPEN) + 1 : -len(DATA_CLOSE) - 1]
    assert DATA_OPEN not in inner and DATA_CLOSE not in inner
    assert json.loads(inner) == {"scene": text, "style": text}


def test_prompt_version_names_the_stored_prompt_text() -> None:
    assert PROMPT_VERSION.startswith("p3-") and len(PROMPT_VERSION) == 11
    record = prompt_record()
    assert "## system" in record and "## response schema" in record and '"no face"' in record


def lp(token: str, p: float, *alternatives: tuple[str, float]) -> TokenLogprob:
    return TokenLogprob(token, math.log(p), tuple((t, math.log(q)) for t, q in ((token, p), *alternatives)))


def test_p_yes_reads_the_value_token_even_when_the_quote_is_merged_into_it() -> None:
    tokens = (
        lp('{"', 1),
        lp("scene", 1),
        lp("_match", 1),
        lp('":"', 1),
        lp("yes", 0.6, ("no", 0.2)),
        lp('","', 1),
        lp("style_match", 1),
        lp('":', 1),
        lp(' "no', 0.7, (' "yes', 0.3)),
        lp('"}', 1),
    )
    content = "".join(t.token for t in tokens)
    assert json.loads(content) == {"scene_match": "yes", "style_match": "no"}
    assert p_yes(content, tokens, "scene_match") == pytest.approx(0.75)
    assert p_yes(content, tokens, "style_match") == pytest.approx(0.3)
    assert p_yes(content, tokens, "people") is None
    assert p_yes(content + " ", tokens, "scene_match") is None  # tokens that do not spell the content
    assert p_yes(content, None, "scene_match") is None


def test_prices_and_their_override(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("VIEWFINDER_JUDGE_PRICE", raising=False)
    price = price_for("openai:gpt-4o-mini")
    assert price.cost(Usage(1_000_000, 1_000_000)) == pytest.approx(0.75)
    assert price.cost(Usage(10, 10, reported_usd=0.5)) == 0.5
    assert price_for("openai:some-new-model") is None
    assert price_for("hf:any/model").cost(Usage(10**6, 10**6)) == 0
    monkeypatch.setenv("VIEWFINDER_JUDGE_PRICE", "1,2")
    assert price_for("openai:some-new-model").cost(Usage(1_000_000, 500_000)) == pytest.approx(2.0)
    monkeypatch.setenv("VIEWFINDER_JUDGE_PRICE", "cheap")
    with pytest.raises(BadInput, match="VIEWFINDER_JUDGE_PRICE"):
        price_for("openai:gpt-4o-mini")


def test_auto_picks_the_judge_the_user_has_keys_for(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("OPENAI_API_KEY", "OPENAI_BASE_URL", "FAL_KEY"):
        monkeypatch.delenv(name, raising=False)
    with pytest.raises(BadInput, match="no VLM judge is configured; set OPENAI_API_KEY"):
        choose_backend("auto")
    monkeypatch.setenv("FAL_KEY", "k-fal")
    choice = choose_backend("auto")
    assert choice.backend.name == "fal:google/gemini-2.5-flash" and "FAL_KEY is set" in choice.note
    monkeypatch.setenv("OPENAI_API_KEY", "sk-x")
    choice = choose_backend("auto")
    assert choice.backend.name == "openai:gpt-4o-mini" and "OPENAI_API_KEY is set" in choice.note
    assert "sk-x" not in choice.note and "k-fal" not in choice.note


def test_judge_names_that_cannot_work_are_bad_input(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("OPENAI_API_KEY", "OPENAI_BASE_URL", "FAL_KEY"):
        monkeypatch.delenv(name, raising=False)
    for spec, message in [
        ("gpt-4o", "is not 'backend:model'"),
        ("claude:opus", "unknown judge backend 'claude'"),
        ("openai:gpt-4o", "OPENAI_API_KEY is not set"),
        ("fal:google/gemini-2.5-flash", "FAL_KEY is not set"),
    ]:
        with pytest.raises(BadInput, match=message):
            choose_backend(spec)
    monkeypatch.setenv("OPENAI_BASE_URL", "http://127.0.0.1:11434/v1")  # a local server needs no key
    assert choose_backend("openai:llava").backend.name == "openai:llava"


def test_small_helpers() -> None:
    assert retry_after_seconds({"retry-after": "3"}) == 3.0
    assert retry_after_seconds({"retry-after-ms": "250", "retry-after": "9"}) == 0.25
    assert retry_after_seconds({"retry-after": "Wed, 21 Oct 2015 07:28:00 GMT"}) == 0.0
    assert (
        50
        < retry_after_seconds({"retry-after": format_datetime(datetime.now(UTC) + timedelta(seconds=60), usegmt=True)})
        <= 60
    )
    assert retry_after_seconds({"retry-after": "soon"}) is None and retry_after_seconds({}) is None
    assert sniff_mime(b"\xff\xd8\xff\xe0") == "image/jpeg" and sniff_mime(b"RIFF0000WEBPVP8 ") == "image/webp"
    with pytest.raises(ValueError):
        sniff_mime(b"<html>")


def test_openai_logprobs_are_decoded_only_for_the_tokens_read() -> None:
    from viewfinder.providers.openai_chat import _logprobs

    def entry(token: str, p: float, *alternatives: tuple[str, float]) -> dict:
        top = [{"token": t, "logprob": math.log(q)} for t, q in ((token, p), *alternatives)]
        return {"token": token, "logprob": math.log(p), "top_logprobs": top}

    entries = [entry('{"scene_match":"', 1), entry("yes", 0.8, ("no", 0.2)), entry('"}', 1)]
    entries[2]["logprob"] = "not a number"  # never read: only the answer token is decoded
    tokens = _logprobs({"content": entries})
    assert tokens is not None and len(tokens) == 3 and tokens.text == '{"scene_match":"yes"}'
    assert p_yes(tokens.text, tokens, "scene_match") == pytest.approx(0.8)
    assert tokens.token_at(len(tokens.text)) is None
    assert _logprobs({"content": [{"logprob": -0.1}]}) is None  # no token text: no logprobs, no crash
    assert _logprobs(None) is None
