"""``docs/`` tells the truth about the code: generated parts are current, links resolve, examples are quoted.

The generated parts (snippets from ``example_dags/``, parameter tables, the tables made from the code)
come from ``tests/docs_snippets.py``; run ``python -m tests.docs_snippets --write`` after changing what
they show.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from tests import docs_snippets
from tests.conftest import REPO_ROOT
from tests.test_bad_input import CONN_ID

DOCS = REPO_ROOT / "docs"
EXAMPLE_DAGS = REPO_ROOT / "example_dags"
#: Markdown files whose links are checked: the docs, and the files they link to and from.
LINKED = [*sorted(DOCS.rglob("*.md")), REPO_ROOT / "CHANGELOG.md", REPO_ROOT / "README.md"]
_LINK = re.compile(r"(?<!!)\[[^\]]*\]\((?P<target>[^)\s]+)\)")
_FENCE = re.compile(r"^```.*?^```", re.MULTILINE | re.DOTALL)


def test_the_generated_parts_of_the_docs_are_current(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(f"AIRFLOW_CONN_{CONN_ID.upper()}", "")  # the bad-input cases set it; restored afterwards

    stale = docs_snippets.stale()

    assert not stale, (
        f"generated parts of {sorted(str(p.relative_to(REPO_ROOT)) for p in stale)} are stale: "
        "run `python -m tests.docs_snippets --write`"
    )


def test_every_example_region_is_balanced_and_quoted_in_the_docs() -> None:
    regions = {
        (path.relative_to(REPO_ROOT).as_posix(), name)
        for path in sorted(EXAMPLE_DAGS.glob("*.py"))
        for name in docs_snippets.snippets(path)  # raises on a START without END, or a repeated name
    }
    quoted = {
        tuple(match.groups())
        for doc in DOCS.rglob("*.md")
        for match in re.finditer(r"^<!-- snippet: (\S+) (\S+) -->$", doc.read_text(), re.MULTILINE)
    }

    assert quoted <= regions, f"docs quote regions that do not exist: {sorted(quoted - regions)}"
    assert regions <= quoted, f"example regions no doc quotes (remove their markers?): {sorted(regions - quoted)}"


def test_every_operator_and_sensor_of_provider_info_has_a_how_to() -> None:
    from airflow_provider_srconnect.get_provider_info import get_provider_info

    info = get_provider_info()
    modules = [m for layer in ("operators", "sensors") for e in info[layer] for m in e["python-modules"]]
    modules += [t["python-module"] for t in info["transfers"]]
    documented = " ".join(p.read_text() for p in (DOCS / "operators").glob("*.md"))
    for module in modules:
        classes = re.findall(
            r"^class (SRConnect\w+)\(", Path(REPO_ROOT, *module.split(".")).with_suffix(".py").read_text(), re.MULTILINE
        )
        public = [c for c in classes if not c.endswith(("ExportOperator", "Trigger"))]
        for name in public:
            assert f"<!-- params: {module}.{name} -->" in documented, f"no how-to in docs/operators/ for {name}"


def _slug(heading: str) -> str:
    """GitHub's anchor of a Markdown heading."""
    text = re.sub(r"[^\w\- ]", "", heading.strip().lower())
    return text.replace(" ", "-")


def _anchors(path: Path) -> set[str]:
    text = _FENCE.sub("", path.read_text())
    return {_slug(m.group(1)) for m in re.finditer(r"^#{1,6} (.+)$", text, re.MULTILINE)}


@pytest.mark.parametrize("path", LINKED, ids=lambda p: str(p.relative_to(REPO_ROOT)))
def test_relative_links_resolve(path: Path) -> None:
    broken = []
    for match in _LINK.finditer(_FENCE.sub("", path.read_text())):
        target = match["target"]
        if re.match(r"^[a-z]+:", target):
            continue  # http(s), mailto: not checked here
        file_part, _, anchor = target.partition("#")
        resolved = (path.parent / file_part).resolve() if file_part else path
        if not resolved.exists():
            broken.append(f"{target} (no such file)")
        elif anchor and resolved.suffix == ".md" and anchor not in _anchors(resolved):
            broken.append(f"{target} (no heading #{anchor})")
    assert not broken, f"{path.relative_to(REPO_ROOT)}: broken links {broken}"


def test_the_manifest_fields_are_all_described() -> None:
    layout = (DOCS / "archive-layout.md").read_text()
    example = json.loads(layout.split("<!-- manifest-example:start")[1].split("```json")[1].split("```")[0])

    undescribed = [key for key in example if f"| `{key}`" not in layout and f", `{key}` |" not in layout]
    assert not undescribed, f"docs/archive-layout.md: add the manifest fields {undescribed} to its table"


def test_the_layout_page_states_the_spool_size_in_use() -> None:
    from airflow_provider_srconnect.publish import SPOOL_BYTES

    layout = " ".join((DOCS / "archive-layout.md").read_text().split())
    assert f"in memory up to {SPOOL_BYTES >> 20} MiB" in layout


def test_the_fault_matrix_in_the_docs_names_every_case() -> None:
    from tests.faults import test_fault_matrix

    text = (DOCS / "troubleshooting.md").read_text()
    table = text[text.index("<!-- fault-matrix:start") : text.index("<!-- fault-matrix:end")]
    named = set(re.findall(r"`(test_\w+)", table))
    # The module's cases, less its own check of the README's copy of this table.
    cases = {
        name
        for name in vars(test_fault_matrix)
        if name.startswith("test_") and not any(word in name for word in ("readme", "table", "docs"))
    }

    assert named == cases
