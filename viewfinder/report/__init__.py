"""The report: a Markdown blog post and a self-contained HTML page built from a run folder."""

from viewfinder.report.build import build_report

__all__ = ["build_report"]
