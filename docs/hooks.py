"""mkdocs hooks (mkdocs.yml ``hooks:``): array shapes in docstrings are not cross-references.

Docstrings write shapes in brackets (``one-hot [..., K] or [...]``), which Markdown reads as
reference links and mkdocs-autorefs then reports as unresolved targets, failing
``mkdocs build --strict``. Only targets that are not dotted Python names (``...``, ``B, D``)
are dropped: a broken reference to an object (``[rgrad.runs.Gone][]``) still fails the build.
"""

import logging
import re

_TARGET = re.compile(r"Could not find cross-reference target '([^']*)'")
_DOTTED = re.compile(r"^[A-Za-z_]\w*(\.[A-Za-z_]\w*)+$")


class _ShapeReferences(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        match = _TARGET.search(record.getMessage())
        return match is None or bool(_DOTTED.match(match.group(1)))


def on_config(config):
    # mkdocs counts strict-mode warnings in a handler of the "mkdocs" logger, added before
    # plugins' on_config runs; filtering there sees the records of every plugin.
    for handler in logging.getLogger("mkdocs").handlers:
        handler.addFilter(_ShapeReferences())
    return config
