"""Verdict words: THE one table of thresholds, and the checker that words agree with numbers.

Every verdict word in a report comes from :data:`SCALES` through :func:`verdict`. A scale
knows its direction: cut points are ascending values, words run from worst to best, and a
lower-is-better scale reads the words backwards. Values are rounded to the digits shown
before the lookup, so the printed number and its word always agree.

:func:`check_text` reads sentences such as "The model scored 0.13, which is considered very
good" and reports each one whose word is not the table's word for its number (the seed
post's contradiction).
"""

from __future__ import annotations

import re
from bisect import bisect_right
from dataclasses import dataclass

from pydantic import BaseModel, ConfigDict


@dataclass(frozen=True)
class Scale:
    """A verdict scale: ascending cut points, words from worst to best, and the better direction."""

    name: str
    direction: str  # "higher" or "lower"
    cuts: tuple[float, ...]
    words: tuple[str, ...]
    digits: int
    cue: str  # regex that identifies the scale in free text ("" = the default scale)
    description: str

    def word(self, value: float) -> str:
        """The verdict word for ``value`` as printed (rounded to ``digits``)."""
        index = bisect_right(self.cuts, round(value, self.digits))
        if self.direction == "lower":
            index = len(self.words) - 1 - index
        return self.words[index]

    def format(self, value: float) -> str:
        return f"{value:.{self.digits}f}"

    def legend(self) -> str:
        """The thresholds in words, e.g. '< 0.40 poor, < 0.60 fair, < 0.80 good, else very good'."""
        words = self.words if self.direction == "higher" else tuple(reversed(self.words))
        parts = [f"< {self.format(cut)} {word}" for cut, word in zip(self.cuts, words, strict=False)]
        return ", ".join(parts) + f", else {words[-1]}"


_QUALITY = ("poor", "fair", "good", "very good")

#: THE table of verdict thresholds. Reports use only these words, through :func:`verdict`.
SCALES: dict[str, Scale] = {
    scale.name: scale
    for scale in (
        Scale(
            "kappa",
            "higher",
            (0.0, 0.2, 0.4, 0.6, 0.8),
            ("poor", "slight", "fair", "moderate", "substantial", "almost perfect"),
            2,
            r"\bkappa\b",
            "Cohen's kappa, Landis & Koch (1977) bands",
        ),
        Scale(
            "clip_score",
            "higher",
            (0.20, 0.25, 0.30),
            _QUALITY,
            2,
            r"\bCLIP score\b",
            "cosine of CLIP image and prompt embeddings",
        ),
        Scale(
            "aesthetic_laion", "higher", (4.5, 5.5, 6.5), _QUALITY, 2, r"\bLAION\b", "LAION aesthetic predictor, 1-10"
        ),
        Scale(
            "ai_likelihood",
            "lower",
            (0.2, 0.4, 0.6),
            _QUALITY,
            2,
            r"\blikelihood of AI\b",
            "judge's likelihood that the image is AI-made, 0-1, lower is better",
        ),
        Scale(
            "probability",
            "higher",
            (0.4, 0.6, 0.8),
            _QUALITY,
            2,
            r"P\(yes\)|\(0-1\)",
            "a probability or 0-1 judge score, higher is better",
        ),
        Scale(
            "adherence", "higher", (0.4, 0.6, 0.8), _QUALITY, 2, "", "share of judged images that follow the request"
        ),
    )
}
DEFAULT_SCALE = "adherence"


def verdict(scale: str, value: float | None) -> str | None:
    """The table's word for ``value`` on ``scale``; None for a missing value."""
    if value is None:
        return None
    return SCALES[scale].word(value)


class Sentence(BaseModel):
    """One conclusion sentence with the number and the scale its verdict word is about."""

    model_config = ConfigDict(extra="forbid")

    text: str
    scale: str | None = None  # None: a sentence without a verdict word
    value: float | None = None


@dataclass(frozen=True)
class Contradiction:
    """A sentence whose verdict word is not the table's word for its number."""

    sentence: str
    scale: str
    value: float
    word: str
    expected: str

    def __str__(self) -> str:
        return (
            f"{self.sentence!r}: {self.value:g} on scale {self.scale!r} is {self.expected!r} "
            f"by the verdict table, not {self.word!r}"
        )


_ALL_WORDS = sorted({w for s in SCALES.values() for w in s.words}, key=len, reverse=True)
# "scored N ... which is WORD" within one sentence: the span may not reach another "scored" or
# a sentence end (".", "!" or "?" before a space, a tag or the end; "0.62" is not an end)
_CLAIM = re.compile(
    r"\bscored\s+([-\u2212]?\d+(?:\.\d+)?)(?:(?!\bscored\b)(?![.!?](?:\s|<|$))[\s\S])*?"
    r"\b(?:which|that|this)\s+(?:is|was)\s+(?:considered\s+|rated\s+|judged\s+)?(?:an?\s+)?("
    + "|".join(re.escape(w) for w in _ALL_WORDS)
    + r")\b",
    re.IGNORECASE,
)
_BOUNDARY = re.compile(r"[.!?](?=\s|<|$)|\n|>")


def scale_of(sentence: str) -> str:
    """The scale a free-text sentence is about, from the scales' cues (default: adherence)."""
    for scale in SCALES.values():
        if scale.cue and re.search(scale.cue, sentence, re.IGNORECASE):
            return scale.name
    return DEFAULT_SCALE


def _value(text: str) -> float:
    """A number as the report prints it (a typographic minus too)."""
    return float(text.replace("\u2212", "-"))


def _judge_claim(sentence: str, value: float, said: str, scale: str) -> Contradiction | None:
    expected = SCALES[scale].word(value)
    return None if said.lower() == expected else Contradiction(sentence.strip(), scale, value, said.lower(), expected)


def check_sentence(sentence: str, scale: str | None = None) -> Contradiction | None:
    """Check one sentence of the form '... scored N ..., which is WORD'; None when consistent
    or when the sentence makes no such claim."""
    claim = _CLAIM.search(sentence)
    if claim is None:
        return None
    return _judge_claim(sentence, _value(claim.group(1)), claim.group(2), scale or scale_of(sentence))


def check_text(text: str) -> list[Contradiction]:
    """Every claim in ``text`` (Markdown, HTML or plain) whose verdict word contradicts its
    number; each claim's scale is read from its own sentence."""
    found = []
    for claim in _CLAIM.finditer(text):
        starts = [m.end() for m in _BOUNDARY.finditer(text, 0, claim.start())]
        sentence = text[(starts[-1] if starts else 0) : claim.end()]
        problem = _judge_claim(sentence, _value(claim.group(1)), claim.group(2), scale_of(sentence))
        if problem:
            found.append(problem)
    return found


def check_sentences(sentences: list[Sentence]) -> list[Contradiction]:
    """Check structured sentences against their own scales (the text is re-read, not trusted).
    A sentence with a scale but no readable 'scored N ..., which is WORD' claim is reported too."""
    found = []
    for sentence in sentences:
        if sentence.scale is None:
            continue
        claim = _CLAIM.search(sentence.text)
        if claim is None:
            expected = verdict(sentence.scale, sentence.value) or "a verdict"
            found.append(Contradiction(sentence.text, sentence.scale, sentence.value or 0.0, "(no verdict)", expected))
            continue
        problem = _judge_claim(sentence.text, _value(claim.group(1)), claim.group(2), sentence.scale)
        if problem:
            found.append(problem)
    return found
