"""Every code example of the documentation site runs here, so no page can drift from the code.

Each Markdown page under ``docs/`` is one test. Its fenced blocks run in order,
in one namespace per page, in a fresh temporary directory, in a copy of the
current context (so ``anyad.use(...)`` on one page never leaks into another):

* ```` ```python ```` (or ``py``) blocks are executed; an exception fails the page,
  naming the page and the line.
* ```` ```pycon ```` blocks are doctests: every ``>>>`` line runs and its output
  must match exactly (``NORMALIZE_WHITESPACE``, as in the docstrings' doctests).
* A block opts out only with an explicit first line ``# not run: <reason>``,
  which is shown on the page with the code (used for code that needs a CUDA GPU).

A page whose example needs an optional package that is not installed (torch,
jax, HIPS autograd, python-autodiff, matplotlib, scikit-learn, tqdm, dask) is
skipped, naming the package; in CI all of them are installed and every page runs.

Other checks keep the site whole: every page is in the ``nav`` of ``mkdocs.yml``,
every public name of anyad appears in the API reference, and the collector
itself fails on a failing example.
"""

from __future__ import annotations

import contextlib
import contextvars
import doctest
import importlib.util
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"
PAGES = sorted(p for p in DOCS.rglob("*.md"))

# Optional packages a page may use; a page needing a missing one is skipped.
OPTIONAL = {"torch", "jax", "jaxlib", "autograd", "autodiff", "matplotlib", "sklearn", "tqdm", "dask",
            "distributed", "cupy", "cupyx"}

_FENCE = re.compile(
    r"^(?P<indent>[ \t]*)(?P<fence>`{3,}|~{3,})[ \t]*(?P<info>[^\n`]*)\n(?P<body>.*?)^(?P=indent)(?P=fence)[ \t]*$",
    re.M | re.S,
)
_SKIP = re.compile(r"^#\s*not run:\s*(?P<reason>\S.*)$")
_PYTHON = {"python", "py", "python3"}
_PYCON = {"pycon"}


class Block:
    """One fenced code block: its language, source (dedented) and first line in the page."""

    def __init__(self, lang: str, source: str, line: int):
        self.lang = lang
        self.source = source
        self.line = line  # 1-based line of the first line of code

    @property
    def skip_reason(self) -> str | None:
        first = self.source.lstrip("\n").split("\n", 1)[0].strip()
        m = _SKIP.match(first)
        return m.group("reason") if m else None


def blocks_of(text: str) -> list[Block]:
    """The fenced blocks of a Markdown text, in order (indented ones inside
    admonitions and tabs included)."""
    out = []
    for m in _FENCE.finditer(text):
        info = m.group("info").strip()
        lang = info.split()[0].lstrip("{.").rstrip("}").lower() if info else ""
        indent = m.group("indent")
        lines = m.group("body").split("\n")
        if lines and lines[-1].strip() == "":
            lines = lines[:-1]
        body = "\n".join(line[len(indent):] if line.startswith(indent) else line for line in lines)
        first = text.count("\n", 0, m.start("body")) + 1
        out.append(Block(lang, body, first))
    return out


def run_python(block: Block, ns: dict, filename: str) -> None:
    """Execute a python block in ``ns``; tracebacks point at the page's own lines.

    (``exec`` is the point of this collector: the house rule against it is
    for the library, not for running the documentation.)
    """
    padded = "\n" * (block.line - 1) + block.source
    code = compile(padded, filename, "exec")
    exec(code, ns)  # noqa: S102


def run_pycon(block: Block, ns: dict, filename: str) -> None:
    """Run a pycon block as a doctest in ``ns``; any mismatch fails."""
    parser = doctest.DocTestParser()
    test = parser.get_doctest(block.source, ns, f"{filename}:{block.line}", filename, block.line - 1)
    test.globs = ns  # DocTest copies its globals; the page shares one namespace
    report: list[str] = []
    runner = doctest.DocTestRunner(verbose=False, optionflags=doctest.NORMALIZE_WHITESPACE)
    runner.run(test, out=report.append, clear_globs=False)
    if runner.failures:
        raise AssertionError(f"doctest failed in {filename} (block at line {block.line}):\n" + "".join(report))
    if not test.examples:
        raise AssertionError(f"{filename}:{block.line}: a pycon block with no '>>>' example")


def run_page(text: str, filename: str) -> dict:
    """Run every block of a page in one namespace; returns counts by kind.

    A block that needs a missing optional package (see ``OPTIONAL``) is
    counted under ``"missing"`` and the page goes on; a later failure then
    skips the page instead of failing it (it may need a name that block
    defined), and any other failure raises.
    """
    ns: dict = {"__name__": "__docs__"}
    counts: dict = {"python": 0, "pycon": 0, "not run": 0, "missing": []}
    for block in blocks_of(text):
        if block.lang not in _PYTHON | _PYCON:
            continue
        if block.skip_reason is not None:
            counts["not run"] += 1
            continue
        try:
            if block.lang in _PYTHON:
                run_python(block, ns, filename)
                counts["python"] += 1
            else:
                run_pycon(block, ns, filename)
                counts["pycon"] += 1
        except Exception as e:
            missing = _missing_optional(e)
            if missing is None:
                missing = _missing_optional_in_doctest(e)
            if missing is not None:
                counts["missing"].append((block.line, missing))
                continue
            if counts["missing"]:
                raise MissingOptional(filename, counts["missing"]) from e
            raise
    return counts


class MissingOptional(Exception):
    """A page failed after blocks that needed missing optional packages were left out."""

    def __init__(self, filename: str, missing: list):
        self.missing = missing
        where = ", ".join(f"line {line} ({name})" for line, name in missing)
        super().__init__(f"{filename}: blocks at {where} need packages that are not installed")


def _missing_optional(exc: BaseException) -> str | None:
    """The optional package whose absence raised ``exc``, if that is what happened."""
    if isinstance(exc, ModuleNotFoundError) and exc.name:
        top = exc.name.split(".")[0]
        if top in OPTIONAL and importlib.util.find_spec(top) is None:
            return top
    return None


_NO_MODULE = re.compile(r"ModuleNotFoundError: No module named '([\w.]+)'")


def _missing_optional_in_doctest(exc: BaseException) -> str | None:
    """The same, for a doctest block (its failure report is text)."""
    if isinstance(exc, AssertionError):
        for name in _NO_MODULE.findall(str(exc)):
            top = name.split(".")[0]
            if top in OPTIONAL and importlib.util.find_spec(top) is None:
                return top
    return None


def _one_blas_thread():
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:
        return contextlib.nullcontext()
    return threadpool_limits(limits=1)


@pytest.mark.parametrize("page", PAGES, ids=[str(p.relative_to(DOCS)) for p in PAGES])
def test_page_examples(page: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Every python and pycon block of the page runs without error, in order."""
    import numpy as np

    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("MPLBACKEND", "Agg")  # plots go to files, never to a window
    np.random.seed(0)
    text = page.read_text(encoding="utf-8")
    rel = str(page.relative_to(ROOT))
    try:
        with _one_blas_thread():  # small matrices: one thread is fastest, and a busy machine stalls more
            counts = contextvars.copy_context().run(run_page, text, rel)
    except MissingOptional as e:
        pytest.skip(str(e))
    if counts["missing"]:
        where = ", ".join(f"line {line} ({name})" for line, name in counts["missing"])
        pytest.skip(f"{rel}: every other block ran and passed; blocks at {where} need packages "
                    "that are not installed")


def test_opt_outs_give_a_reason() -> None:
    """A block can opt out only with '# not run: <reason>' as its first line
    (and must still compile); a bare marker, or a python block with an unknown
    language tag, is an error."""
    bad = []
    for page in PAGES:
        for block in blocks_of(page.read_text(encoding="utf-8")):
            first = block.source.lstrip("\n").split("\n", 1)[0].strip()
            if re.match(r"^#\s*not run", first, re.I) and block.skip_reason is None:
                bad.append(f"{page.relative_to(ROOT)}:{block.line}: opt-out without a reason")
            if block.lang in {"python2", "ipython", "py3", "pytb"}:
                bad.append(f"{page.relative_to(ROOT)}:{block.line}: use ```python or ```pycon, not {block.lang}")
            if block.lang in _PYTHON and block.skip_reason is not None:
                try:  # a block that is not run is still compiled: no syntax drift
                    compile("\n" * (block.line - 1) + block.source, str(page.relative_to(ROOT)), "exec")
                except SyntaxError as e:
                    bad.append(f"{page.relative_to(ROOT)}:{e.lineno}: syntax error in a block that is not run: {e}")
    assert not bad, "\n".join(bad)


def _nav_files(nav: object) -> list[str]:
    if isinstance(nav, str):
        return [nav]
    if isinstance(nav, list):
        return [f for item in nav for f in _nav_files(item)]
    if isinstance(nav, dict):
        return [f for v in nav.values() for f in _nav_files(v)]
    return []


def _mkdocs_config() -> dict:
    yaml = pytest.importorskip("yaml")

    class Loader(yaml.SafeLoader):
        pass

    # mkdocs.yml may use !!python/name tags (pymdownx options): load them as strings
    Loader.add_multi_constructor("tag:yaml.org,2002:python/", lambda loader, suffix, node: suffix)
    Loader.add_multi_constructor("!", lambda loader, suffix, node: suffix)
    return yaml.load((ROOT / "mkdocs.yml").read_text(encoding="utf-8"), Loader=Loader)


def test_every_page_is_in_the_nav() -> None:
    nav = set(_nav_files(_mkdocs_config()["nav"]))
    missing = [str(p.relative_to(DOCS)) for p in PAGES if str(p.relative_to(DOCS)) not in nav]
    dangling = sorted(f for f in nav if not (DOCS / f).exists() and not f.startswith("http"))
    assert not missing, f"pages not in the nav of mkdocs.yml: {missing}"
    assert not dangling, f"nav entries without a page: {dangling}"


def _reference_text() -> str:
    return "\n".join(p.read_text(encoding="utf-8") for p in sorted((DOCS / "api").glob("*.md")))


def _documented(name: str, text: str) -> bool:
    return re.search(rf"^:::\s+{re.escape(name)}\s*$", text, re.M) is not None


def test_every_public_name_is_in_the_api_reference() -> None:
    """Each name in ``anyad.__all__`` (and of the public submodules) has a
    ``::: anyad.<name>`` entry on a reference page, or is a submodule that has one."""
    import types

    import anyad

    text = _reference_text()
    missing = []
    for name in anyad.__all__:
        obj = getattr(anyad, name)
        if isinstance(obj, types.ModuleType):
            if not _documented(obj.__name__, text):
                missing.append(obj.__name__)
        elif not _documented(f"anyad.{name}", text):
            missing.append(f"anyad.{name}")
    assert not missing, f"public names missing from docs/api/*.md: {missing}"


# ----------------------------------------------------------------------------
# The collector checks itself: a failing example must fail
# ----------------------------------------------------------------------------


def test_collector_fails_on_a_raising_block() -> None:
    page = "Intro\n\n```python\nx = 1\n```\n\ntext\n\n```python\nraise ValueError('drifted')\n```\n"
    with pytest.raises(ValueError, match="drifted"):
        run_page(page, "fake.md")


def test_collector_fails_on_a_wrong_doctest_output() -> None:
    page = "```pycon\n>>> 1 + 1\n3\n```\n"
    with pytest.raises(AssertionError, match="doctest failed"):
        run_page(page, "fake.md")


def test_collector_shares_one_namespace_and_honours_opt_outs() -> None:
    page = (
        "```python\nx = 40\n```\n\n"
        "!!! note\n\n    ```python\n    x += 1\n    ```\n\n"
        "```python\n# not run: needs a CUDA GPU\nraise RuntimeError('never run')\n```\n\n"
        "```pycon\n>>> x + 1\n42\n```\n\n"
        "```bash\nexit 1\n```\n"
    )
    assert run_page(page, "fake.md") == {"python": 2, "pycon": 1, "not run": 1, "missing": []}


def test_collector_leaves_out_blocks_that_need_a_missing_optional_package(monkeypatch) -> None:
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "torch" else object())
    page = (
        "```python\nraise ModuleNotFoundError(\"No module named 'torch'\", name='torch')\n```\n\n"
        "```python\ny = 2\n```\n\n"
        "```pycon\n>>> raise ModuleNotFoundError(\"No module named 'torch'\", name='torch')\n```\n"
    )
    counts = run_page(page, "fake.md")
    assert counts["python"] == 1 and counts["missing"] == [(2, "torch"), (10, "torch")]
    # a failure after a left-out block may come from it: the page is skipped, not failed ...
    with pytest.raises(MissingOptional):
        run_page(page + "\n```python\nundefined_name\n```\n", "fake.md")
    # ... but without a left-out block, a failure is a failure
    with pytest.raises(NameError):
        run_page("```python\nundefined_name\n```\n", "fake.md")


def test_collector_reports_the_page_line() -> None:
    page = "line 1\nline 2\n\n```python\na = 1\nb = undefined_name\n```\n"
    with pytest.raises(NameError) as info:
        run_page(page, "fake.md")
    tb = info.tb
    while tb.tb_next is not None:
        tb = tb.tb_next
    assert tb.tb_frame.f_code.co_filename == "fake.md"
    assert tb.tb_lineno == 6


def test_the_docstring_extension_rewrites_roles_and_fences_doctests() -> None:
    """docs/_ext/docstrings.py (loaded by mkdocstrings) turns Sphinx roles into
    inline code and a module docstring's bare doctest into a pycon fence."""
    import importlib.util as iu

    spec = iu.spec_from_file_location("_docs_ext", DOCS / "_ext" / "docstrings.py")
    if iu.find_spec("griffe") is None:
        pytest.skip("griffe (the docs extra) is not installed")
    ext = iu.module_from_spec(spec)
    spec.loader.exec_module(ext)
    assert ext.rewrite("see :func:`anyad.use` and :class:`~anyad.Operation`") == "see `anyad.use` and `Operation`"
    doc = "Summary.\n\n>>> 1 + 1\n2\n\nExamples\n--------\n>>> 2 + 2\n4\n"
    assert ext.rewrite(doc) == "Summary.\n\n```pycon\n>>> 1 + 1\n2\n```\n\nExamples\n--------\n>>> 2 + 2\n4\n"
