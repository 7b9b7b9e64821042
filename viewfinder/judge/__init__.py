"""The VLM judge: card text, moods, image errors, AI likelihood and adherence answers.

Backends: any OpenAI-compatible chat completions API (``openai:<model>``), fal.ai vision
models (``fal:<model>``) and local transformers VLMs (``hf:<model id or path>``).
"""

from viewfinder.judge.analyzer import JudgeAnalyzer

__all__ = ["JudgeAnalyzer"]
