"""A griffe extension for the docs build, so numpydoc docstrings written for
Sphinx and doctest render well as Markdown. Docstrings in the source stay as
they are; only the rendered site changes. Loaded by mkdocs.yml (plugins:
mkdocstrings: handlers: python: options: extensions).

* Sphinx cross-reference roles (``:func:`anyad.use```, ``:meth:`backward```,
  ``:class:`~anyad.Operation```) become inline code.
* Doctest examples in the free text before the first numpydoc section (a module
  docstring's ``>>>`` session) become a fenced ``pycon`` block instead of a
  Markdown block quote. (Inside an ``Examples`` section griffe handles them.)
"""

from __future__ import annotations

import re

import griffe

_ROLE = re.compile(r":(?:py:)?(?:func|meth|class|mod|attr|data|obj|exc|const|ref):`(~?)([^`]+)`")
_SECTION = re.compile(r"^[ \t]*[A-Z][A-Za-z ]+\n[ \t]*-{3,}[ \t]*$", re.M)


def _role(match: re.Match) -> str:
    target = match.group(2)
    if match.group(1):  # ~a.b.c shows as c, as in Sphinx
        target = target.rsplit(".", 1)[-1]
    return f"`{target}`"


def _fence_doctests(text: str) -> str:
    """Wrap each run of doctest lines (from a '>>>' line to the next blank line) in a pycon fence."""
    out, block = [], []
    for line in text.split("\n"):
        if block:
            if line.strip():
                block.append(line)
                continue
            out += ["```pycon", *block, "```", line]
            block = []
        elif line.lstrip().startswith(">>>"):
            block = [line]
        else:
            out.append(line)
    if block:
        out += ["```pycon", *block, "```"]
    return "\n".join(out)


def rewrite(doc: str) -> str:
    """The docstring as the site shows it."""
    if ":`" in doc:
        doc = _ROLE.sub(_role, doc)
    if ">>>" in doc:
        m = _SECTION.search(doc)
        head, tail = (doc[: m.start()], doc[m.start():]) if m else (doc, "")
        if ">>>" in head:
            doc = _fence_doctests(head) + tail
    return doc


class MarkdownDocstrings(griffe.Extension):
    """Apply :func:`rewrite` to every docstring griffe loads."""

    def on_instance(self, *, obj: griffe.Object, **kwargs: object) -> None:
        doc = obj.docstring
        if doc is not None:
            doc.value = rewrite(doc.value)
