"""The VLM judge: card text, moods, image errors, AI likelihood and adherence answers.

The ``judge`` analyzer (:mod:`viewfinder.analyze.analyzers.judge`) uses this package's
prompt, answer schema and backends. Choose it with ``--judge`` (or ``judge = "..."`` in the
study's ``[analysis]`` table):

- ``openai:<model>``: any OpenAI-compatible chat completions API with image input
  (OpenAI, vLLM, Ollama, OpenRouter, LM Studio); ``OPENAI_API_KEY``, ``OPENAI_BASE_URL``.
- ``fal:<OpenRouter vision model>``: fal.ai's ``openrouter/router/vision`` endpoint with the
  ``FAL_KEY`` used for generation, e.g. ``fal:google/gemini-2.5-flash``.
- ``hf:<model id or folder>``: a local transformers image-text-to-text model.
- ``auto`` (the default): ``openai:gpt-4o-mini`` when ``OPENAI_API_KEY`` is set, else
  ``fal:google/gemini-2.5-flash`` when ``FAL_KEY`` is set; the log says which was picked.

Settings from the environment: ``VIEWFINDER_JUDGE_CONCURRENCY`` (calls in flight, default
8), ``VIEWFINDER_JUDGE_MAX_TOKENS`` (answer length, default 1200) and
``VIEWFINDER_JUDGE_PRICE="<input>,<output>"`` (USD per million tokens, for models missing
from :mod:`viewfinder.judge.pricing`).

The judge sees the image and only the prompt's scene and style; it names the camera angle,
shot size and facial expression blind to what the prompt asked for. Answers follow one
fixed schema (:mod:`viewfinder.judge.answer`), are stored per (image file, prompt) for one
judge model and prompt version, and every call's cost goes to the run's ledger.
"""
