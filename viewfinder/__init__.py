"""viewfinder: reproducible studies of how text-to-image models follow structured prompts."""

__version__ = "0.1.0"
