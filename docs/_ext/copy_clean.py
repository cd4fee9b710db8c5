"""A MkDocs hook so the copy button of a ``>>>`` example copies only the code.

Material for MkDocs copies a code block's text, unless an element around the
code carries a ``data-copy`` attribute: then it copies that attribute instead
(``closest("[data-copy]")`` in its clipboard component). For every highlighted
block with Python prompts (a ``pycon`` fence, or a docstring's ``Examples``),
this hook puts the code lines there, prompts (``>>>``, ``...``) removed and
output lines left out, so a pasted example runs. Blocks without prompts are
left alone. Loaded by mkdocs.yml (``hooks:``); tests/test_docs_hygiene.py
checks it, and that every copied example on the built site is valid Python.

(The stylesheet docs/css/code.css also makes prompts and output unselectable,
for copying by hand: the recipe of mkdocstrings' documentation.)
"""

from __future__ import annotations

import html
import re

# a highlighted block as pymdownx.highlight writes it:
# <div class="... highlight"><pre>...<code>...</code></pre></div>
_BLOCK = re.compile(
    r'<div class="(?P<cls>[^"]*\bhighlight\b[^"]*)"(?P<attrs>[^>]*)>'
    r"(?P<pre><pre>.*?<code>(?P<code>.*?)</code></pre>)</div>",
    re.S,
)
_ANCHOR = re.compile(r"^(?:<a [^>]*></a>)+")  # the line-number anchors before each line
_PROMPT = re.compile(r'^<span class="gp">(?P<prompt>[^<]*)</span>')
_TAG = re.compile(r"<[^>]+>")


def code_of_session(code_html: str) -> str | None:
    """The code typed in a highlighted ``>>>`` session, without prompts or
    output; None if the block has no prompt (then it is copied as it is)."""
    lines, prompted = [], False
    for raw in code_html.split("\n"):
        line = _ANCHOR.sub("", raw.replace("<span></span>", ""))
        m = _PROMPT.match(line)
        if m is None:
            continue  # output, or a traceback
        prompted = True
        prompt = html.unescape(m.group("prompt"))
        text = html.unescape(_TAG.sub("", line[m.end():]))
        # a prompt span may hold the whole line ('...' alone, or '>>> ' with nothing after)
        lines.append(text if prompt.strip() in (">>>", "...") else prompt[4:] + text)
    if not prompted:
        return None
    return "\n".join(lines).rstrip() + "\n"


def copy_clean(page_html: str) -> str:
    """``page_html`` with a ``data-copy`` attribute on every block of a ``>>>`` session."""

    def one(m: re.Match) -> str:
        if "data-copy" in m.group("attrs"):
            return m.group(0)
        code = code_of_session(m.group("code"))
        if code is None:
            return m.group(0)
        attr = html.escape(code, quote=True).replace("\n", "&#10;")
        return f'<div class="{m.group("cls")}"{m.group("attrs")} data-copy="{attr}">{m.group("pre")}</div>'

    return _BLOCK.sub(one, page_html)


def on_page_content(html_text: str, **kwargs) -> str:  # the MkDocs hook
    return copy_clean(html_text)
