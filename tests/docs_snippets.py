"""The generated parts of ``docs/``: snippets from ``example_dags/``, and tables made from the code.

    python -m tests.docs_snippets            # list the stale files; exit 1 if there is any
    python -m tests.docs_snippets --write    # rewrite them

``tests/test_docs.py`` fails while any part is stale, so the docs cannot drift from the code. In a
Markdown file a generated block sits between a start and an end comment, and everything between
them is replaced::

    <!-- snippet: example_dags/srconnect_invocations_daily.py howto_operator_srconnect_to_s3 -->
    ```python
    ...
    ```
    <!-- snippet:end -->

Kinds of block (``<!-- KIND: ARGS -->`` or ``<!-- KIND:start NOTE -->``, then ``<!-- KIND:end -->``):

- ``snippet: PATH NAME``: the lines between ``# [START NAME]`` and ``# [END NAME]`` in PATH (as in
  Airflow's provider docs), dedented, as a Python code block;
- ``params: module.Class``: the parameters of an operator or sensor: each ``:param:`` of its docstring
  and its bases' (this package's classes only), the default from ``__init__``, and whether Airflow
  renders it (``template_fields``);
- ``connection-extras:start``: the connection's extra fields (``connection.EXTRA_FIELDS``);
- ``errors:start``: the typed errors, whether they are retried, and their docstrings' first paragraph;
- ``assumptions:start``: the assumed API contract (``contract.assumptions_markdown()``, as in README);
- ``contract-keys:start``: every key of the default contract (``contract.assumptions_markdown(per_key=True)``);
- ``bad-input:start``: the bad-input matrix (``tests.test_bad_input.markdown()``, as in README);
- ``requirements:start``: the dependencies and extras of ``pyproject.toml``;
- ``manifest-example:start``: a manifest as ``export.manifest`` writes it, for a sample window.
"""

from __future__ import annotations

import ast
import datetime as dt
import hashlib
import importlib
import inspect
import re
import sys
import textwrap
import tomllib
from collections.abc import Callable
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parent.parent
DOCS = REPO_ROOT / "docs"
PACKAGE = "airflow_provider_srconnect"

_START = re.compile(r"^<!-- (?P<kind>[a-z-]+)(?::start(?P<note>[^>]*)|: (?P<args>[^>]*?)) -->$", re.MULTILINE)
_MARKER = re.compile(r"^\s*# \[(?P<edge>START|END) (?P<name>[\w-]+)\]\s*$")
_PARAM = re.compile(r"^:param (?P<name>\w+):(?P<text>.*)$")


class DocsError(Exception):
    """A marker that cannot be filled: unknown kind, missing end, unknown snippet."""


# --- Snippets ---------------------------------------------------------------------------------------------


def snippets(path: Path) -> dict[str, str]:
    """Every ``# [START name]`` ... ``# [END name]`` region of a file, dedented, markers removed."""
    found: dict[str, str] = {}
    open_at: dict[str, int] = {}
    lines = path.read_text().splitlines()
    for number, line in enumerate(lines):
        match = _MARKER.match(line)
        if not match:
            continue
        name = match["name"]
        if match["edge"] == "START":
            if name in open_at or name in found:
                raise DocsError(f"{path.name}:{number + 1}: a second [START {name}]")
            open_at[name] = number
        else:
            if name not in open_at:
                raise DocsError(f"{path.name}:{number + 1}: [END {name}] without its START")
            body = [text for text in lines[open_at.pop(name) + 1 : number] if not _MARKER.match(text)]
            found[name] = textwrap.dedent("\n".join(body)).strip("\n")
    if open_at:
        raise DocsError(f"{path.name}: [START {', '.join(open_at)}] without an END")
    return found


def snippet(args: str) -> str:
    path, _, name = args.partition(" ")
    regions = snippets(REPO_ROOT / path)
    if name not in regions:
        raise DocsError(f"no [START {name}] in {path}")
    return f"```python\n{regions[name]}\n```"


# --- Parameter tables -------------------------------------------------------------------------------------


def docstring_params(cls: type) -> dict[str, str]:
    """``:param name: text`` entries of a class's own docstring (continuation lines joined)."""
    doc = inspect.cleandoc(cls.__dict__.get("__doc__") or "")
    params: dict[str, str] = {}
    current: str | None = None
    for line in doc.splitlines():
        match = _PARAM.match(line)
        if match:
            current = match["name"]
            params[current] = match["text"].strip()
        elif current and line.startswith((" ", "\t")) and line.strip():
            params[current] += " " + line.strip()
        else:
            current = None
    return params


def _default(cls: type, name: str) -> str:
    """The default of ``name`` in the nearest ``__init__`` that takes it, as a user would write it."""
    for klass in cls.__mro__:
        init = klass.__dict__.get("__init__")
        if init is None or not klass.__module__.startswith(PACKAGE):
            continue
        parameter = inspect.signature(init).parameters.get(name)
        if parameter is None:
            continue
        if parameter.default is inspect.Parameter.empty:
            return "required"
        source = _default_source(init, name)
        if source is not None and "(" in source:  # computed when the class is defined: show how
            return f"`{source}`"
        value = parameter.default
        if isinstance(value, dt.timedelta | type(None) | bool | int | float | str):
            return f"`{value!r}`"
        return f"`{source or value!r}`"
    return "—"


def _default_source(function: Callable[..., Any], name: str) -> str | None:
    tree = ast.parse(textwrap.dedent(inspect.getsource(function)))
    node = tree.body[0]
    assert isinstance(node, ast.FunctionDef)
    arguments = node.args
    pairs = list(zip(arguments.kwonlyargs, arguments.kw_defaults, strict=True))
    positional = arguments.posonlyargs + arguments.args
    pairs += list(zip(positional[len(positional) - len(arguments.defaults) :], arguments.defaults, strict=True))
    for argument, default in pairs:
        if argument.arg == name and default is not None:
            return ast.unparse(default)
    return None


def _markdown_text(text: str) -> str:
    text = re.sub(r"\s*\(templated[^)]*\)", "", text).strip()
    return text.replace("``", "`").replace("|", "\\|")


def params_table(dotted: str) -> str:
    module, _, name = dotted.rpartition(".")
    cls = getattr(importlib.import_module(module), name)
    rows: dict[str, str] = {}
    for klass in cls.__mro__:
        if klass.__module__.startswith(PACKAGE):
            for param, text in docstring_params(klass).items():
                rows.setdefault(param, text)  # a subclass's text wins over its base's
    templated = set(getattr(cls, "template_fields", ()))
    lines = ["| parameter | default | templated | description |", "|---|---|---|---|"]
    lines += [
        f"| `{param}` | {_default(cls, param)} | {'yes' if param in templated else ''} | {_markdown_text(text)} |"
        for param, text in rows.items()
    ]
    return "\n".join(lines)


# --- Tables made from the code ----------------------------------------------------------------------------


def connection_extras() -> str:
    from airflow_provider_srconnect.connection import EXTRA_FIELDS

    lines = ["| extra | form label | type | default | description |", "|---|---|---|---|---|"]
    for field in EXTRA_FIELDS:
        kinds = {"str": "text", "int": "whole number", "float": "number", "json": "JSON object (or its text)"}
        kind = kinds[field.kind]
        if field.choices:
            kind = " or ".join(f"`{c}`" for c in field.choices)
        if field.sensitive:
            kind += " (secret: masked in the form and in logs)"
        default = "—" if field.default is None else f"`{field.default}`"
        lines.append(f"| `{field.name}` | {field.label} | {kind} | {default} | {_markdown_text(field.description)} |")
    return "\n".join(lines)


def errors() -> str:
    from airflow_provider_srconnect import exceptions, windows

    classes = [c for c in vars(exceptions).values() if isinstance(c, type) and issubclass(c, exceptions.SRConnectError)]
    classes.append(windows.SRConnectWindowExpiredError)
    lines = ["| error | is a | retried | meaning |", "|---|---|---|---|"]
    for cls in classes:
        base = ", ".join(f"`{b.__name__}`" for b in cls.__bases__ if b is not Exception)
        retried = "by the hook, then by the task's retries" if cls.retryable else "no: the task fails at once"
        summary = " ".join(inspect.cleandoc(cls.__doc__ or "").split("\n\n")[0].split())
        lines.append(f"| `{cls.__name__}` | {base or '—'} | {retried} | {_markdown_text(summary)} |")
    return "\n".join(lines)


def assumptions() -> str:
    from airflow_provider_srconnect import contract

    return contract.assumptions_markdown()


def contract_keys() -> str:
    from airflow_provider_srconnect import contract

    return contract.assumptions_markdown(per_key=True)


def bad_input() -> str:
    from tests import test_bad_input

    return test_bad_input.markdown()


def requirements() -> str:
    from packaging.requirements import Requirement

    project = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())["project"]

    def row(spec: str) -> str:
        requirement = Requirement(spec)
        extras = f"[{','.join(sorted(requirement.extras))}]" if requirement.extras else ""
        return f"| `{requirement.name}{extras}` | `{requirement.specifier or 'any'}` |"

    lines = ["| package | version |", "|---|---|", *map(row, project["dependencies"])]
    lines += ["", "| extra | installs | for |", "|---|---|---|"]
    for extra, specs in project.get("optional-dependencies", {}).items():
        if extra == "test":
            continue
        installs = ", ".join(f"`{spec}`" for spec in specs)
        lines.append(f"| `{extra}` | {installs} | {EXTRA_PURPOSE.get(extra, '')} |")
    return "\n".join(lines)


#: What each extra is for (an extra missing here shows with an empty cell: add it).
EXTRA_PURPOSE = {
    "amazon": "`SRConnectToS3Operator`",
    "google": "`SRConnectToGCSOperator`",
    "redis": "`rate_limit_storage: redis://...` (a budget shared by workers on several machines)",
    "parquet": '`output_format="parquet"`',
    "openlineage": "lineage events of the exports",
}


def manifest_example() -> str:
    import pendulum

    from airflow_provider_srconnect.export import Archived, ExportRequest, ExportResult, archive_keys, manifest
    from airflow_provider_srconnect.windows import LogWindow

    window = LogWindow(pendulum.datetime(2026, 11, 26, tz="UTC"), pendulum.datetime(2026, 11, 27, tz="UTC"))
    keys = archive_keys("srconnect", "invocations", window)
    body = manifest(
        window,
        ExportRequest(include_logs="failed"),
        Archived(
            (
                (
                    f"s3://my-archive/{keys.data}",
                    ExportResult(485, bytes=201002, sha256=hashlib.sha256(b"example").hexdigest(), logs_not_stored=0),
                ),
            )
        ),
        started=pendulum.datetime(2026, 11, 27, 0, 20, 3, tz="UTC"),
        finished=pendulum.datetime(2026, 11, 27, 0, 20, 9, tz="UTC"),
    )
    return f"```json\n{body.decode().rstrip()}\n```"


GENERATORS: dict[str, Callable[..., str]] = {
    "snippet": snippet,
    "params": params_table,
    "connection-extras": connection_extras,
    "assumptions": assumptions,
    "contract-keys": contract_keys,
    "errors": errors,
    "bad-input": bad_input,
    "requirements": requirements,
    "manifest-example": manifest_example,
}


#: Marked blocks written by hand (checked by tests of their own), left as they are.
HAND_WRITTEN = frozenset({"fault-matrix"})


# --- Files ------------------------------------------------------------------------------------------------


def render(text: str, where: str = "") -> str:
    """``text`` with every generated block filled anew."""
    out: list[str] = []
    position = 0
    for start in _START.finditer(text):
        if start.start() < position:
            continue  # a start marker inside a block being replaced
        kind = start["kind"]
        if kind in HAND_WRITTEN:
            continue
        if kind not in GENERATORS:
            raise DocsError(f"{where}: unknown generated block {kind!r} (known: {', '.join(GENERATORS)})")
        end = text.find(f"<!-- {kind}:end -->", start.end())
        if end < 0:
            raise DocsError(f"{where}: <!-- {kind}... --> has no <!-- {kind}:end -->")
        args = (start["args"] or "").strip()
        body = GENERATORS[kind](args) if args else GENERATORS[kind]()
        out += [text[position : start.end()], "\n", body, "\n"]
        position = end
    out.append(text[position:])
    return "".join(out)


def markdown_files() -> list[Path]:
    return sorted(DOCS.rglob("*.md"))


def stale() -> dict[Path, str]:
    """Files whose generated blocks differ from what the code gives now, with their new text."""
    changed: dict[Path, str] = {}
    for path in markdown_files():
        text = path.read_text()
        new = render(text, str(path.relative_to(REPO_ROOT)))
        if new != text:
            changed[path] = new
    return changed


def main(argv: list[str]) -> int:
    write = "--write" in argv
    changed = stale()
    for path, text in changed.items():
        if write:
            path.write_text(text)
        print(f"{'rewrote' if write else 'stale'}: {path.relative_to(REPO_ROOT)}")
    return 0 if write or not changed else 1


if __name__ == "__main__":
    # Airflow reads its configuration on import: give it the tests' throw-away home, never ~/airflow.
    import tests.conftest  # noqa: F401

    sys.exit(main(sys.argv[1:]))
