"""Study files for tests, written from their parts: one emotion table and its cases each."""

from __future__ import annotations

import json


def case_toml(variant: str, subject: str, category: str, scene: str) -> str:
    """One ``[[emotions.cases]]`` table, after a blank line."""
    values = {"variant": variant, "subject": subject, "category": category, "scene": scene}
    return "\n[[emotions.cases]]\n" + "".join(f"{key} = {json.dumps(value)}\n" for key, value in values.items())


def emotion_toml(name: str, expressions: list[str], *cases: tuple[str, str, str, str]) -> str:
    """One ``[[emotions]]`` table with its cases (variant, subject, category, scene), after a blank line."""
    head = f"\n[[emotions]]\nname = {json.dumps(name)}\n"
    if expressions:
        head += f"expressions = {json.dumps(expressions)}\n"
    return head + "".join(case_toml(*case) for case in cases)


def one_case_study(
    name: str,
    models: list[str],
    seeds: list[int],
    tables: str = "",
    *,
    expressions: tuple[str, ...] = (),
    scene: str = "A crowded party",
) -> str:
    """A study of one case (Jealousy, eye-level, cinematic) for ``models`` x ``seeds``; ``tables``
    adds TOML tables such as ``[generation]``."""
    head = (
        f'name = "{name}"\ntopic = "facial-expressions"\ncameras = ["eye-level"]\nstyles = ["cinematic"]\n'
        f"models = {json.dumps(models)}\nseeds = {json.dumps(seeds)}\n"
    )
    case = ("Lonely and envious", "A single woman", "Single Persons", scene)
    return head + tables + emotion_toml("Jealousy", list(expressions), case)
