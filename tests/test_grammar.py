"""The prompt grammar: exact round trip on the seed, property test, clear rejections."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from viewfinder.errors import BadInput
from viewfinder.study.grammar import FIELDS, Prompt, format_prompt, parse_prompt

SEED_PROMPTS = (Path(__file__).parent / "data" / "seed_prompts.txt").read_text(encoding="utf-8").splitlines()


def test_seed_has_ten_prompts() -> None:
    assert len(SEED_PROMPTS) == 10


@pytest.mark.parametrize("text", SEED_PROMPTS)
def test_seed_prompts_round_trip(text: str) -> None:
    assert format_prompt(parse_prompt(text)) == text


def test_parse_fields_of_first_seed_prompt() -> None:
    fields = parse_prompt(SEED_PROMPTS[0]).fields()
    assert fields == {
        "topic": "facial-expressions",
        "emotion": "Jealousy",
        "variant": "Lonely and envious",
        "subject": "A single woman",
        "camera": "eye-level",
        "category": "Single Persons",
        "scene": "A crowded party with couples dancing and laughing",
        "style": "cinematic",
    }


def test_format_of_built_prompt_uses_seed_spacing() -> None:
    prompt = Prompt(**parse_prompt(SEED_PROMPTS[1]).fields())
    assert format_prompt(prompt) == SEED_PROMPTS[1]


def test_unusual_spacing_is_kept() -> None:
    text = "  topic  Multi word emotion :variant;subject ;  camera;cat;scene;  style  "
    parsed = parse_prompt(text)
    assert parsed.emotion == "Multi word emotion"
    assert parsed.style == "style"
    assert format_prompt(parsed) == text


field_text = st.text(
    alphabet=st.characters(blacklist_characters=";:\n\r", blacklist_categories=("Cs", "Zs", "Zl", "Zp", "Cc")),
    min_size=1,
    max_size=20,
)
space = st.sampled_from(["", " ", "  ", "\t"])


@settings(max_examples=300, deadline=None)
@given(
    values=st.fixed_dictionaries({name: field_text for name in FIELDS}),
    spaces=st.lists(space, min_size=14, max_size=14),
    words=st.lists(field_text, min_size=0, max_size=2),
)
def test_round_trip_property(values: dict[str, str], spaces: list[str], words: list[str]) -> None:
    emotion = " ".join([values["emotion"], *words])
    s = spaces
    text = (
        f"{s[0]}{values['topic']} {emotion}{s[1]}:{s[2]}{values['variant']}{s[3]};"
        f"{s[4]}{values['subject']}{s[5]};{s[6]}{values['camera']}{s[7]};"
        f"{s[8]}{values['category']}{s[9]};{s[10]}{values['scene']}{s[11]};{s[12]}{values['style']}{s[13]}"
    )
    parsed = parse_prompt(text)
    assert format_prompt(parsed) == text
    assert parsed.topic == values["topic"]
    assert parsed.emotion == emotion
    assert parsed.scene == values["scene"]
    rebuilt = Prompt(**parsed.fields())
    assert parse_prompt(format_prompt(rebuilt)).fields() == parsed.fields()


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("facial-expressions Jealousy: a ; b; c; d; e", "found 5 ';'-separated part(s), need 6"),
        ("facial-expressions Jealousy: a ; b; c; d; e; f; g", "found 7"),
        ("facial-expressions Jealousy a ; b; c; d; e; f", "no ':' after the emotion"),
        ("facial-expressions: a ; b; c; d; e; f", "the emotion is missing"),
        ("facial-expressions Jealousy: a ; b; ; d; e; f", "the field 'camera' is empty"),
        ("facial-expressions Jealousy:  ; b; c; d; e; f", "the field 'variant' is empty"),
        ("facial-expressions Jealousy: a ; b; c; d; e;   ", "the field 'style' is empty"),
    ],
)
def test_bad_prompts_name_the_problem_and_show_the_shape(text: str, expected: str) -> None:
    with pytest.raises(BadInput) as info:
        parse_prompt(text)
    message = str(info.value)
    assert expected in message
    assert "{topic} {emotion}: {variant} ; {subject}; {camera}; {category}; {scene}; {style}" in message
