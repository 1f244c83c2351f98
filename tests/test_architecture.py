"""The package's shape: one contract module, one-way imports, and a README that tells the truth."""

from __future__ import annotations

import ast
import json
import re
from pathlib import Path

import pytest

from airflow_provider_srconnect import contract

PACKAGE = Path(contract.__file__).parent
ROOT = PACKAGE.parent
FIXTURES = sorted((ROOT / "tests" / "contracts").glob("*.json"))
#: Wire names so common that other code may say them for other reasons (e.g. sandbox HTTP-log bodies).
GENERIC = {
    "id",
    "url",
    "items",
    "date",
    "logs",
    "action",
    "actor",
    "metadata",
    "from",
    "to",
    "asc",
    "desc",
    "script",
    "message",
    "workspace",
    "environment",
    # Words the fixture contracts use as field names that mean other things elsewhere (HTTP-log entries, logs).
    "status",
    "level",
    "source",
    "timestamp",
    "duration",
    "code",
    "user",
    "trigger",
    "at",
    "ip",
    "state",
    "started",
    "details",
    "uid",
    "{message_id}",
    "startedAt",  # the manifest's own key
}


def _leaves(value: object) -> set[str]:
    if isinstance(value, dict):
        return {leaf for item in value.values() for leaf in _leaves(item)}
    return {value} if isinstance(value, str) else set()


def wire_names() -> set[str]:
    """Every name the default contract puts on the wire (paths, parameters, fields, spellings), and the
    record field names of the two fixture contracts, so that no module hard-codes one of them."""
    names = _leaves(contract.DEFAULT.as_json())
    for fixture in FIXTURES:
        names |= _leaves(json.loads(fixture.read_text()).get("records", {}))
    names -= {"iso-ms", "epoch-ms", "epoch-s", "repeat", "comma", "cursor", "page", "offset", "field", "short"}
    names -= {"empty", "url", "inline", "null-url", "empty-body"}  # the contract's own vocabulary, not wire names
    return {name.strip("/").split("/")[-1] if name.startswith("/") else name for name in names} - GENERIC


def code_strings(path: Path) -> set[str]:
    """String constants of a module, docstrings left out."""
    tree = ast.parse(path.read_text())
    docstrings = {
        id(node.body[0].value)
        for node in ast.walk(tree)
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef))
        and node.body
        and isinstance(node.body[0], ast.Expr)
    }
    return {
        node.value
        for node in ast.walk(tree)
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in docstrings
    }


def modules() -> list[Path]:
    return sorted(p for p in PACKAGE.rglob("*.py") if p.name != "contract.py")


@pytest.mark.parametrize("path", modules(), ids=lambda p: str(p.relative_to(PACKAGE)))
def test_wire_names_are_spelled_only_in_the_contract(path):
    spelled = code_strings(path) & wire_names()
    assert not spelled, f"{path.name} spells {sorted(spelled)}: use the constants of contract.py"


def imports(path: Path) -> set[str]:
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            found.add(node.module)
    return found


@pytest.mark.parametrize(
    ("layer", "forbidden"),
    [
        ("_api.py", r"^airflow\.|operators|transfers|destinations|export|sandbox"),
        ("hooks/srconnect.py", r"operators|transfers|destinations|export|sandbox|amazon|google"),
        ("export.py", r"operators|transfers|destinations|publish|amazon|google|boto|sandbox"),
        ("publish.py", r"operators|transfers|amazon|google|boto|sandbox"),
        ("sandbox", r"hooks|operators|transfers|export|_api|_paging|^airflow\."),
        # The wire contract is data: it imports nothing of the provider but its errors.
        ("contract.py", r"^airflow(\.|$)|airflow_provider_srconnect\.(?!exceptions$)"),
        ("doctor", r"operators|transfers|destinations|export|publish|sandbox|amazon|google"),
        # The Airflow faces of an export (assets, lineage, the UI link) know no operator, hook or storage.
        ("assets.py", r"operators|transfers|hooks|destinations|publish|sandbox|amazon|google"),
        ("lineage.py", r"operators|transfers|hooks|destinations|publish|sandbox|amazon|google"),
        ("links.py", r"operators|transfers|hooks|destinations|publish|export|sandbox|amazon|google"),
        # The record schema and what is made from it (Parquet columns, SQL) sit between contract and export.
        ("schema.py", r"^airflow\.|hooks|operators|transfers|destinations|export|publish|sandbox|_parquet"),
        ("_parquet.py", r"^airflow\.|hooks|operators|transfers|destinations|export|publish|sandbox"),
        ("sql.py", r"^airflow\.|hooks|operators|transfers|destinations|export|publish|sandbox|_parquet"),
    ],
)
def test_data_flows_one_way(layer, forbidden):
    paths = [PACKAGE / layer] if layer.endswith(".py") else sorted((PACKAGE / layer).rglob("*.py"))
    for path in paths:
        bad = {name for name in imports(path) if re.search(forbidden, name)}
        assert not bad, f"{path.relative_to(PACKAGE)} imports {sorted(bad)}"


def test_the_readme_lists_every_assumption_of_the_contract():
    readme = (ROOT / "README.md").read_text()
    table = readme.split("<!-- assumptions:start")[1].split("-->", 1)[1].split("<!-- assumptions:end -->")[0]
    assert table.strip() == contract.assumptions_markdown(), (
        "README's assumed-contract table is stale: paste `python -m airflow_provider_srconnect.contract` into it"
    )
