"""Benchmarks: each module has ``NAME`` and ``run(quick) -> str`` (a Markdown section).

``python -m experiments.bench`` (``make bench``) runs them; see :mod:`experiments.bench.driver`.
"""
