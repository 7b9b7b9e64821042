"""Study files, the prompt grammar and the prompt grid."""

from viewfinder.study.grammar import Prompt, format_prompt, parse_prompt
from viewfinder.study.grid import GridPrompt, Job, expand_jobs, expand_prompts
from viewfinder.study.load import load_study, parse_study
from viewfinder.study.schema import Study

__all__ = [
    "GridPrompt",
    "Job",
    "Prompt",
    "Study",
    "expand_jobs",
    "expand_prompts",
    "format_prompt",
    "load_study",
    "parse_prompt",
    "parse_study",
]
