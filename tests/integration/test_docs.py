"""The documentation site: generated tables match the code, every ``python`` example runs, mkdocs builds.

Generated sections in the Markdown pages are delimited by HTML comments::

    <!-- BEGIN GENERATED: schema book_deltas -->
    ...exact text produced by the code...
    <!-- END GENERATED: schema book_deltas -->

``python tests/integration/test_docs.py`` rewrites those sections from the code (run it after changing a
schema or FEATURE_DOCS); the tests below fail whenever a page and the code disagree.
"""

from __future__ import annotations

import functools
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from orderflow.core.schema import Schema

ROOT = Path(__file__).resolve().parents[2]
DOCS = ROOT / "docs"
PAGES = sorted([*DOCS.glob("*.md"), *DOCS.glob("stages/*.md")])

_SECTION = re.compile(
    r"<!-- BEGIN GENERATED: (?P<key>[^>]+?) -->\n(?P<body>.*?)\n<!-- END GENERATED: (?P=key) -->",
    re.S,
)
_FENCE = re.compile(r"^```python[ \t]*\n(?P<code>.*?)^```[ \t]*$", re.S | re.M)


def generated_sections() -> dict[str, tuple[Path, Callable[[], str]]]:
    """Every generated section: key -> (page, function producing its text from the code)."""
    from orderflow.core import schema

    out: dict[str, tuple[Path, Callable[[], str]]] = {}
    for name, sch in [*schema.SCHEMAS.items(), ("book_snapshots_2", schema.book_snapshots(2))]:
        out[f"schema {name}"] = (DOCS / "schemas.md", functools.partial(schema_table, sch))
    out["features FEATURE_DOCS"] = (DOCS / "stages" / "features.md", feature_docs_table)
    return out


def _cell(text: str) -> str:
    """Escape a table cell: a bare ``|`` (as in ``|r_j|``) would split the cell, ``*`` would start emphasis."""
    return text.replace("|", "\\|").replace("*", "\\*")


def schema_table(sch: Schema) -> str:
    """``Schema.doc_table()`` with its cells escaped for Markdown (descriptions such as "drop|mark" hold bars)."""
    rows = ["| column | type | unit | meaning |", "|---|---|---|---|"]
    for c in (*sch.columns, *sch.optional):
        rows.append(f"| `{c.name}` | {c.dtype} | {_cell(c.unit)} | {_cell(c.description)} |")
    return "\n".join(rows)


def _unescape(text: str) -> str:
    return text.replace("\\|", "|").replace("\\*", "*")


def feature_docs_table() -> str:
    """``docs_markdown()`` with its cells escaped for Markdown (it writes formulas such as |V_buy - V_sell| raw)."""
    from orderflow.features.docs import FEATURE_DOCS

    rows = ["| feature | group | formula | unit | warm-up | source |", "|---|---|---|---|---|---|"]
    for name, d in FEATURE_DOCS.items():
        cells = (d.group, d.formula, d.unit, d.warmup, d.source)
        rows.append(f"| `{name}` | " + " | ".join(_cell(c) for c in cells) + " |")
    return "\n".join(rows)


def page_sections(page: Path) -> dict[str, str]:
    return {m["key"]: m["body"] for m in _SECTION.finditer(page.read_text())}


def regenerate() -> None:
    """Rewrite every generated section of the pages from the code."""
    for key, (page, make) in generated_sections().items():
        text = page.read_text()
        begin, end = f"<!-- BEGIN GENERATED: {key} -->", f"<!-- END GENERATED: {key} -->"
        if begin not in text:
            raise SystemExit(f"{page}: no section '{key}' (add the BEGIN/END markers)")
        head, rest = text.split(begin, 1)
        _, tail = rest.split(end, 1)
        page.write_text(f"{head}{begin}\n{make()}\n{end}{tail}")


def python_blocks() -> list[tuple[str, str]]:
    blocks = []
    for page in PAGES:
        for i, m in enumerate(_FENCE.finditer(page.read_text())):
            blocks.append((f"{page.relative_to(DOCS)}#{i + 1}", m["code"]))
    return blocks


def test_every_nav_page_exists() -> None:
    nav = re.findall(r":\s*([\w/-]+\.md)\s*$", (ROOT / "mkdocs.yml").read_text(), re.M)
    assert nav, "no pages in mkdocs.yml nav"
    missing = [p for p in nav if not (DOCS / p).is_file()]
    assert not missing, f"pages in the mkdocs nav but not in docs/: {missing}"


@pytest.mark.parametrize("key", sorted(generated_sections()))
def test_generated_section_matches_code(key: str) -> None:
    page, make = generated_sections()[key]
    sections = page_sections(page)
    assert key in sections, f"{page.name}: generated section '{key}' is missing"
    assert sections[key] == make(), (
        f"{page.name}: section '{key}' differs from the code; run `python tests/integration/test_docs.py`"
    )


def test_feature_table_is_docs_markdown() -> None:
    # the page shows exactly FEATURE_DOCS as the code renders it, only escaped for Markdown
    from orderflow.features.docs import docs_markdown

    assert _unescape(feature_docs_table()) == docs_markdown()


def test_schema_tables_are_doc_table() -> None:
    # the page shows exactly Schema.doc_table() for every table, only escaped for Markdown
    from orderflow.core import schema

    for sch in [*schema.SCHEMAS.values(), schema.book_snapshots(2)]:
        assert _unescape(schema_table(sch)) == sch.doc_table(), sch.name


def test_every_schema_is_documented() -> None:
    from orderflow.core import schema

    text = (DOCS / "schemas.md").read_text()
    for name in schema.SCHEMAS:
        assert f"BEGIN GENERATED: schema {name} -->" in text, name


def test_pages_have_python_examples() -> None:
    # a guard for the extractor itself: the pages are known to hold runnable examples
    assert len(python_blocks()) >= 8


@pytest.fixture
def restore_plugins() -> Iterator[None]:
    """Examples register plug-ins (extending.md): undo that so other tests see the built-ins only."""
    from orderflow.features import FEATURE_DOCS, FEATURES_REGISTRY
    from orderflow.filters.rules import FILTERS

    saved = [(d, dict(d)) for d in (FEATURE_DOCS, FEATURES_REGISTRY._items, FILTERS._items)]
    yield
    for d, copy in saved:
        d.clear()
        d.update(copy)


@pytest.mark.parametrize("where,code", python_blocks(), ids=[w for w, _ in python_blocks()])
@pytest.mark.usefixtures("restore_plugins")
def test_python_example_runs(where: str, code: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    namespace: dict[str, object] = {"__name__": "__docs__"}
    exec(compile(code, f"docs/{where}", "exec"), namespace)


def test_mkdocs_build_strict(tmp_path: Path) -> None:
    pytest.importorskip("mkdocs", reason="mkdocs comes with the dev extra (make test installs it)")
    exe = shutil.which("mkdocs", path=os.path.dirname(sys.executable)) or shutil.which("mkdocs")
    cmd = [exe] if exe else [sys.executable, "-m", "mkdocs"]
    res = subprocess.run(
        [*cmd, "build", "--strict", "--site-dir", str(tmp_path / "site")],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert res.returncode == 0, res.stderr[-3000:]


if __name__ == "__main__":
    regenerate()
