"""The documentation site reads well and pastes cleanly (checks that run in CI).

* The copy button of a ``>>>`` example copies only the code: the MkDocs hook
  docs/_ext/copy_clean.py puts the prompt-less code in a ``data-copy``
  attribute, which Material for MkDocs copies instead of the block's text.
  Every such copy on the built site is valid Python.
* Code lines in the pages' fenced blocks fit the content column (80 columns).
* No page, and no report of the benchmark harness, shows folders of the machine
  a run was made on.
"""

from __future__ import annotations

import html
import importlib.util
import json
import textwrap
import re
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"
PAGES = sorted(DOCS.rglob("*.md"))
WIDTH = 80

sys.path.insert(0, str(Path(__file__).resolve().parent))
from test_docs import _mkdocs_config, blocks_of  # noqa: E402


def _hook():
    spec = importlib.util.spec_from_file_location("_copy_clean", DOCS / "_ext" / "copy_clean.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def _render(markdown_text: str) -> str:
    """A page's Markdown as MkDocs renders its code blocks (same highlight options)."""
    markdown = pytest.importorskip("markdown")
    pytest.importorskip("pymdownx")
    return markdown.markdown(markdown_text, extensions=["pymdownx.highlight", "pymdownx.superfences"],
                             extension_configs={"pymdownx.highlight": {"anchor_linenums": True}})


_DATA_COPY = re.compile(r'data-copy="([^"]*)"')


def _copies(page_html: str) -> list[str]:
    return [html.unescape(m) for m in _DATA_COPY.findall(page_html)]


# ----------------------------------------------------------------------------
# The copy button
# ----------------------------------------------------------------------------


def test_a_copied_session_is_its_code_without_prompts_or_output() -> None:
    page = (
        "```pycon\n"
        ">>> import anyad as ad\n"
        ">>> def f(x):\n"
        "...     return ad.sin(x) * 2\n"
        "...\n"
        ">>> f(0.0)  # a comment: 1 > 0\n"
        "Variable(0.)\n"
        ">>> 1 / 0\n"
        "Traceback (most recent call last):\n"
        "    ...\n"
        "ZeroDivisionError: division by zero\n"
        "```\n\n"
        "```python\nx = 1  # >>> not a prompt\n```\n"
    )
    out = _hook().copy_clean(_render(page))
    assert _copies(out) == [
        "import anyad as ad\ndef f(x):\n    return ad.sin(x) * 2\n\nf(0.0)  # a comment: 1 > 0\n1 / 0\n"
    ]
    assert out.count("data-copy=") == 1  # the python block is copied as it is


def test_the_site_uses_the_hook_and_the_theme_copies_data_copy() -> None:
    """mkdocs.yml loads the hook, the copy button is on, and the installed
    Material for MkDocs copies an enclosing ``data-copy`` attribute (if a new
    release drops that, this fails instead of the site copying prompts again)."""
    config = _mkdocs_config()
    assert "docs/_ext/copy_clean.py" in config.get("hooks", [])
    assert "content.code.copy" in config["theme"]["features"]
    assert "css/code.css" in config.get("extra_css", [])
    assert "user-select: none" in (DOCS / "css" / "code.css").read_text(encoding="utf-8")
    spec = importlib.util.find_spec("material")
    if spec is None:
        pytest.skip("mkdocs-material (the docs extra) is not installed")
    scripts = Path(spec.origin).parent / "templates" / "assets" / "javascripts"
    bundles = list(scripts.glob("bundle.*.min.js"))
    assert bundles, "no Material for MkDocs JavaScript bundle found"
    assert any('closest("[data-copy]")' in b.read_text(encoding="utf-8") for b in bundles)


def test_every_copied_example_on_the_built_site_is_python(tmp_path: Path) -> None:
    """Build the site (pages and API reference): every block with ``>>>`` prompts
    has a ``data-copy`` and it compiles."""
    for mod in ("mkdocs", "material", "mkdocstrings", "mkdocstrings_handlers"):
        if importlib.util.find_spec(mod) is None:
            pytest.skip(f"{mod} (the docs extra) is not installed")
    from mkdocs.commands.build import build
    from mkdocs.config import load_config

    config = load_config(str(ROOT / "mkdocs.yml"), site_dir=str(tmp_path / "site"), strict=False)
    build(config)
    blocks = re.compile(r'<div class="[^"]*\bhighlight\b[^"]*"([^>]*)><pre>(.*?)</pre></div>', re.S)
    n, bad = 0, []
    for f in sorted((tmp_path / "site").rglob("*.html")):
        text = f.read_text(encoding="utf-8")
        for m in blocks.finditer(text):
            if 'class="gp"' not in m.group(2):
                continue
            copies = _copies(m.group(1))
            if not copies:
                bad.append(f"{f.relative_to(tmp_path)}: a >>> block without data-copy")
                continue
            n += 1
            try:
                compile(copies[0], str(f), "exec")
            except SyntaxError as e:
                bad.append(f"{f.relative_to(tmp_path)}: copied code is not Python ({e}):\n{copies[0]}")
    assert n > 100, f"only {n} >>> blocks found on the site"
    assert not bad, "\n".join(bad)


# ----------------------------------------------------------------------------
# Line width and machine paths
# ----------------------------------------------------------------------------


def test_code_lines_fit_the_content_column() -> None:
    """A wider line is cut off on the page: wrap it (pycon output may wrap too,
    the doctests compare with NORMALIZE_WHITESPACE)."""
    long = []
    for page in PAGES:
        for block in blocks_of(page.read_text(encoding="utf-8")):
            for i, line in enumerate(block.source.split("\n")):
                if len(line) > WIDTH:
                    long.append(f"{page.relative_to(ROOT)}:{block.line + i}: {len(line)} columns")
    assert not long, f"code lines over {WIDTH} columns:\n" + "\n".join(long)


def _docstring_owners():
    """(label, object) for every module of anyad, the classes and functions it
    defines, and their methods and properties: what the API reference renders."""
    import inspect
    import pkgutil

    import anyad

    for info in pkgutil.walk_packages(anyad.__path__, "anyad."):
        try:
            mod = importlib.import_module(info.name)
        except Exception:  # an optional backend that is not installed
            continue
        yield info.name, mod
        for name, obj in vars(mod).items():
            if getattr(obj, "__module__", None) != info.name:
                continue
            yield f"{info.name}.{name}", obj
            if inspect.isclass(obj):
                for attr, member in vars(obj).items():
                    member = getattr(member, "__func__", member)
                    if isinstance(member, property):
                        member = member.fget
                    yield f"{info.name}.{name}.{attr}", member


def test_docstring_example_lines_fit_the_content_column() -> None:
    """The API pages show the docstrings' ``>>>`` examples as code blocks: each
    line, with its ``>>> ``/``... `` prompt, and each expected-output line fits
    80 columns (split statements, name long arguments, wrap outputs and
    exception messages: the doctests compare with NORMALIZE_WHITESPACE)."""
    import doctest
    import inspect

    parser = doctest.DocTestParser()
    seen, long, n = set(), [], 0
    for label, obj in _docstring_owners():
        doc = inspect.getdoc(obj)
        if not doc or id(obj) in seen:
            continue
        seen.add(id(obj))
        for ex in parser.get_examples(doc):
            n += 1
            src = ex.source.rstrip("\n").split("\n")
            lines = [(">>> " if i == 0 else "... ") + s for i, s in enumerate(src)]
            lines += ex.want.rstrip("\n").split("\n") if ex.want else []
            long += [f"{label}: {len(s)} columns: {s[:100]}" for s in lines if len(s) > WIDTH]
    assert n > 500, f"only {n} docstring examples found"
    assert not long, f"docstring example lines over {WIDTH} columns:\n" + "\n".join(long)


_MACHINE_PATH = re.compile(r"(?:/home/|/Users/|/root/|/tmp/|/work/|/private/var/|/mnt/|[A-Z]:\\Users\\)")


def test_no_page_shows_folders_of_a_machine_or_tracker_labels() -> None:
    """No /home/..., /tmp/... (the machine a run was made on), and no internal
    tracker labels such as "(issue 3)", which mean nothing to a reader."""
    files = PAGES + sorted(DOCS.glob("*.json")) + [ROOT / "README.md"]
    hits = []
    for f in files:
        for n, line in enumerate(f.read_text(encoding="utf-8").split("\n"), 1):
            if _MACHINE_PATH.search(line) or re.search(r"\bissue \d+\b", line):
                hits.append(f"{f.relative_to(ROOT)}:{n}: {line.strip()[:120]}")
    assert not hits, "machine paths or tracker labels in the docs:\n" + "\n".join(hits)


def test_benchmark_reports_show_file_names_only() -> None:
    """The harness keeps its command line without folders, and the Markdown
    report strips them from older runs too; target labels are plain words."""
    sys.path.insert(0, str(ROOT))
    report = pytest.importorskip("benchmarks.report")
    argv = ["python", "-m", "benchmarks", "--json", "/home/me/b.json", "--plot=/tmp/x/b.png",
            "-i", "anyad,torch eager"]
    expected = "python -m benchmarks --json b.json --plot=b.png -i 'anyad,torch eager'"
    assert report.portable_command(argv) == expected
    run = json.loads((DOCS / "benchmarks.json").read_text(encoding="utf-8"))
    run["config"]["command"] = "python -m benchmarks --json /work/x/run.json --markdown C:\\Users\\me\\run.md"
    text = report.markdown(run)
    assert "`python -m benchmarks --json run.json --markdown run.md`" in text
    assert not _MACHINE_PATH.search(text)
    assert not any(re.search(r"\bissue\b", t[-1]) for t in report.TARGETS)


# ----------------------------------------------------------------------------
# The API reference of Variable
# ----------------------------------------------------------------------------


def _variable_members_listed() -> list[str]:
    yaml = pytest.importorskip("yaml")
    text = (DOCS / "api" / "core.md").read_text(encoding="utf-8")
    m = re.search(r"^::: anyad\.Variable\n((?:    .*\n|\n)+)", text, re.M)
    assert m, "docs/api/core.md has no '::: anyad.Variable' entry with options"
    return yaml.safe_load(textwrap.dedent(m.group(1)))["options"]["members"]


def test_variable_reference_lists_every_member_most_used_first() -> None:
    """The explicit member list of ``::: anyad.Variable`` (it sets the order)
    names every public member with a docstring, starts with the array's own
    attributes and the everyday methods, and ends with the reference API."""
    import anyad

    listed = _variable_members_listed()
    public = {n for n in dir(anyad.Variable) if not n.startswith("_")}
    slots = {"value", "grad", "requires_grad"}  # documented in the class's Attributes table
    missing = sorted(public - slots - set(listed))
    assert not missing, f"Variable members missing from docs/api/core.md (they would not show): {missing}"
    undocumented = [n for n in listed if n in public and not getattr(anyad.Variable, n).__doc__]
    assert not undocumented, f"listed Variable members without a docstring: {undocumented}"
    assert listed[:5] == ["shape", "dtype", "device", "ndim", "size"]
    assert {"backward", "detach", "sum", "mean", "reshape", "astype", "tolist"} <= set(listed[:16])
    assert listed[-3:] == ["param_to", "add_result_of", "add_param_to"]
    doc = anyad.Variable.__doc__
    assert all(re.search(rf"^\s+{n} :", doc, re.M) for n in slots), "value, grad, requires_grad in Attributes"


# ----------------------------------------------------------------------------
# Examples write where they are run
# ----------------------------------------------------------------------------


def test_derivative_plot_writes_to_the_current_directory(tmp_path: Path, monkeypatch) -> None:
    """By default ./derivatives.png, as train_digits.py writes ./digits_loss.png:
    no docs/img folder made wherever it runs."""
    pytest.importorskip("matplotlib")
    path = ROOT / "examples" / "derivative_plot.py"
    spec = importlib.util.spec_from_file_location("_derivative_plot", path)
    plot = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(plot)
    monkeypatch.chdir(tmp_path)
    assert plot.main([]) == "derivatives.png"
    assert (tmp_path / "derivatives.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["derivatives.png"]


# ----------------------------------------------------------------------------
# Packaging: what pip resolves, and what the sdist ships
# ----------------------------------------------------------------------------


def _pyproject() -> dict:
    tomllib = pytest.importorskip("tomllib")  # Python 3.11+
    return tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))


def _names(reqs: list[str]) -> list[str]:
    return [re.split(r"[\[<>=!~ ;]", r, maxsplit=1)[0].lower().replace("_", "-") for r in reqs]


def test_extras_resolve_without_searching() -> None:
    """dask comes with its own "distributed" extra (which pins the distributed of
    the same release): listed apart, pip tried ~38 distributed releases against
    the newest dask. The docs extra names each distribution once, keeps MkDocs
    below 2 (which drops plugins) and has ruff for the signatures."""
    extras = _pyproject()["project"]["optional-dependencies"]
    for name in ("test", "dask"):
        reqs = extras[name]
        assert "distributed" not in _names(reqs), f"{name}: distributed comes through dask[distributed]"
        dask = [r for r in reqs if _names([r])[0] == "dask"]
        assert len(dask) == 1 and re.match(r"dask\[[^\]]*\bdistributed\b[^\]]*\]>=", dask[0]), dask
    docs = extras["docs"]
    names = _names(docs)
    assert len(names) == len(set(names)), f"docs extra lists a distribution twice: {docs}"
    assert not any("[python]" in r for r in docs), "mkdocstrings[python] or mkdocstrings-python"
    mkdocs = next(r for r in docs if _names([r])[0] == "mkdocs")
    assert "<2" in mkdocs.replace(" ", ""), mkdocs
    plugins = _mkdocs_config()["plugins"]
    plugin = next(p["mkdocstrings"] for p in plugins if isinstance(p, dict) and "mkdocstrings" in p)
    signatures_formatted = plugin["handlers"]["python"]["options"].get("separate_signature", False)
    assert "ruff" in names or "black" in names or not signatures_formatted


def test_the_sdist_ships_what_the_tests_read() -> None:
    """tests/test_docs.py runs docs/ and tests/test_examples.py runs examples/."""
    include = set(_pyproject()["tool"]["hatch"]["build"]["targets"]["sdist"]["include"])
    assert {"anyad", "tests", "docs", "examples", "mkdocs.yml", "README.md", "LICENSE"} <= include


# ----------------------------------------------------------------------------
# The README's set-up
# ----------------------------------------------------------------------------


def test_readme_sets_up_in_two_commands_after_the_virtual_environment() -> None:
    """The Python it needs (as pyproject says), the venv step, then exactly two
    commands: one installs and runs the main job, one installs the test
    dependencies and runs the tests. The benchmark smoke run is named."""
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    setup = text[text.index("## Set up"):text.index("\n## ", text.index("## Set up") + 1)]
    commands = [b.source.strip() for b in blocks_of(setup) if b.lang == "bash"]
    assert len(commands) == 3, commands
    assert "-m venv" in commands[0] and "activate" in commands[0]
    assert commands[1].startswith('pip install ".[examples]"') and "examples/train_digits.py" in commands[1]
    assert commands[2].startswith('pip install -e ".[test]"') and "python -m pytest" in commands[2]
    low = _pyproject()["project"]["requires-python"].removeprefix(">=")
    assert f"Python {low} or newer" in setup
    assert "python -m benchmarks --quick" in text and "smoke run" in text
