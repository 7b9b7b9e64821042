"""Expand a study into its prompt grid and its image jobs, each with a deterministic id."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from viewfinder.study.grammar import PromptFields, render_template
from viewfinder.study.schema import Study


def stable_id(*parts: Any, length: int = 16) -> str:
    """A short hex id from the JSON of ``parts`` (stable across runs and machines)."""
    blob = json.dumps(parts, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(blob.encode("utf-8")).hexdigest()[:length]


@dataclass(frozen=True, kw_only=True)
class GridPrompt(PromptFields):
    """One cell of the prompt grid (without model and seed)."""

    id: str
    text: str
    position: int

    def as_dict(self) -> dict[str, Any]:
        """The ``expand --format jsonl`` object: id, text, then the fields in grammar order."""
        return {"id": self.id, "text": self.text, **self.fields()}


@dataclass(frozen=True)
class Job:
    """One image to make: a prompt, a model and a seed with the generation parameters."""

    id: str
    prompt: GridPrompt
    model: str
    seed: int
    params: dict[str, Any]


def expand_prompts(study: Study) -> list[GridPrompt]:
    """The prompt grid in study order: emotion, case, camera, style."""
    out: list[GridPrompt] = []
    for emotion in study.emotions:
        for case in emotion.cases:
            for camera in study.cameras:
                for style in study.styles:
                    values = {
                        "topic": study.topic,
                        "emotion": emotion.name,
                        "variant": case.variant,
                        "subject": case.subject,
                        "camera": camera,
                        "category": case.category,
                        "scene": case.scene,
                        "style": style,
                    }
                    text = render_template(study.template, values)
                    out.append(GridPrompt(id=stable_id("prompt", text), text=text, position=len(out), **values))
    return out


def expand_jobs(study: Study, models: list[str] | None = None) -> Iterator[Job]:
    """Every prompt x model x seed, in grid order; ``models`` overrides the study's list."""
    chosen = models or study.models
    params_of = {model: study.generation.params_for(model) for model in chosen}
    for prompt in expand_prompts(study):
        for model in chosen:
            params = params_of[model]
            for seed in study.seeds:
                job_id = stable_id("job", prompt.text, model, seed, params)
                yield Job(id=job_id, prompt=prompt, model=model, seed=seed, params=params)
