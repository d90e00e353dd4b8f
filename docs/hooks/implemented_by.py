"""mkdocs hook: every name on an ``Implemented by:`` line becomes a link to its entry in the
API reference (``api.md``, generated from the docstrings by mkdocstrings).

The pages keep plain names (`` `npsep.reference.glob_ln` ``), which ``tests/test_docs.py``
imports; this hook rewrites each into an autorefs cross-reference
(`` [`npsep.reference.glob_ln`][npsep.reference.glob_ln] ``), which ``mkdocs build --strict``
refuses to leave unresolved.
"""
import re

IMPLEMENTED = re.compile(r"^Implemented by:.*$", re.M)
NAME = re.compile(r"`((?:npsep|weights_convert)(?:\.[A-Za-z_]\w*)+)`")


def link_names(line):
    return NAME.sub(lambda m: f"[`{m.group(1)}`][{m.group(1)}]", line)


def on_page_markdown(markdown, **kwargs):
    return IMPLEMENTED.sub(lambda m: link_names(m.group(0)), markdown)
