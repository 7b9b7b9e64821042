"""Analyzers that exist only for tests."""
