"""A griffe extension for the docs build: Sphinx cross-reference roles in
anyad's numpydoc docstrings (``:func:`anyad.use```, ``:meth:`backward```,
``:class:`~anyad.Operation```) become inline code, which is how Markdown
shows them. Docstrings in the source stay as they are (Sphinx-compatible);
only the rendered site changes. Loaded by mkdocs.yml (plugins: mkdocstrings:
handlers: python: options: extensions).
"""

from __future__ import annotations

import re

import griffe

_ROLE = re.compile(r":(?:py:)?(?:func|meth|class|mod|attr|data|obj|exc|const|ref):`~?([^`]+)`")


def _plain(match: re.Match) -> str:
    target = match.group(1)
    if match.group(0).split("`", 1)[0].endswith(":") and "`~" in match.group(0):
        target = target.rsplit(".", 1)[-1]  # ~a.b.c shows as c, as in Sphinx
    return f"`{target}`"


class SphinxRoles(griffe.Extension):
    """Rewrite Sphinx roles to inline code in every docstring griffe loads."""

    def on_instance(self, *, obj: griffe.Object, **kwargs: object) -> None:
        doc = obj.docstring
        if doc is not None and ":`" in doc.value:
            doc.value = _ROLE.sub(_plain, doc.value)
