"""The provider as Airflow sees it: provider info, entry point, and the ``airflow`` CLI."""

from __future__ import annotations

import importlib
import importlib.metadata
import importlib.util
import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from airflow_provider_srconnect import __version__, connection
from airflow_provider_srconnect.get_provider_info import get_provider_info

_LAYER_PACKAGES = ("hooks", "operators", "sensors", "triggers", "transfers")
CHANGELOG = Path(__file__).resolve().parent.parent / "CHANGELOG.md"
#: keep-a-changelog's kinds of change, in its order.
_CHANGE_KINDS = ("Added", "Changed", "Deprecated", "Removed", "Fixed", "Security")
CLI_TIMEOUT = 120  # seconds; one `airflow` call normally takes about 2 s


def _airflow_schema(name: str) -> dict[str, Any]:
    """Load a JSON schema shipped inside the installed ``airflow`` package, without importing Airflow."""
    spec = importlib.util.find_spec("airflow")
    locations = list(spec.submodule_search_locations or []) if spec else []
    for location in locations:
        path = Path(location) / name
        if path.is_file():
            return dict(json.loads(path.read_text()))
    pytest.skip(f"this Airflow ships no {name}")


def _airflow(*args: str) -> subprocess.Popen[str]:
    """Start ``airflow ARGS`` with the test environment (see conftest); finish it with ``_output``."""
    return subprocess.Popen(
        [sys.executable, "-m", "airflow", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        stdin=subprocess.DEVNULL,
        text=True,
    )


def _output(proc: subprocess.Popen[str]) -> str:
    try:
        out, err = proc.communicate(timeout=CLI_TIMEOUT)
    except subprocess.TimeoutExpired:
        proc.kill()
        out, err = proc.communicate()
        pytest.fail(f"{proc.args} timed out after {CLI_TIMEOUT} s:\n{out}\n{err}")
    assert proc.returncode == 0, f"{proc.args} exited {proc.returncode}:\n{out}\n{err}"
    return out


def _json(stdout: str) -> Any:
    """The JSON document in a CLI's stdout (Airflow may log a line to stdout before it)."""
    for line in stdout.splitlines():
        if line.startswith(("[", "{")):
            try:
                return json.loads(line)
            except json.JSONDecodeError:
                continue  # Airflow 2 log lines start with "[<time>]"
    raise AssertionError(f"no JSON in CLI output:\n{stdout}")


def test_provider_info_is_valid_for_airflow_runtime() -> None:
    jsonschema = pytest.importorskip("jsonschema")

    jsonschema.validate(get_provider_info(), _airflow_schema("provider_info.schema.json"))


def test_provider_info_is_valid_as_provider_yaml() -> None:
    """Airflow 3's provider.yaml schema is stricter: it also checks conn-fields and ui-field-behaviour."""
    jsonschema = pytest.importorskip("jsonschema")
    properties = _airflow_schema("provider.yaml.schema.json")["properties"]
    if "conn-fields" not in properties["connection-types"]["items"]["properties"]:
        pytest.skip("this Airflow reads no connection form from provider info (Airflow 2)")

    # Key by key: the schema's required release bookkeeping (state, dependencies...) is not runtime info.
    for key, value in get_provider_info().items():
        jsonschema.validate(value, properties[key])


def test_provider_info_declares_the_connection_form() -> None:
    info = get_provider_info()
    (conn_type,) = info["connection-types"]

    assert info["package-name"] == "airflow-provider-srconnect"
    assert info["versions"] == [__version__]
    assert conn_type["connection-type"] == "srconnect"
    assert conn_type["hook-class-name"] == "airflow_provider_srconnect.hooks.srconnect.SRConnectHook"
    assert set(conn_type["conn-fields"]) == {f.name for f in connection.EXTRA_FIELDS}
    # Airflow 3 masks a conn-field in the form only when its schema format is "password".
    secret_fields = {n for n, f in conn_type["conn-fields"].items() if f["schema"].get("format") == "password"}
    assert secret_fields == {f.name for f in connection.EXTRA_FIELDS if f.sensitive}
    assert conn_type["ui-field-behaviour"] == connection.UI_FIELD_BEHAVIOUR


def test_every_module_named_in_provider_info_imports() -> None:
    info = get_provider_info()
    modules = [
        m
        for layer in ("hooks", "operators", "sensors", "triggers")
        for e in info.get(layer, [])
        for m in e["python-modules"]
    ] + [t["python-module"] for t in info.get("transfers", [])]
    hook_module, _, hook_class = info["connection-types"][0]["hook-class-name"].rpartition(".")

    for module in modules:
        importlib.import_module(module)
    assert getattr(importlib.import_module(hook_module), hook_class).conn_type == "srconnect"


def test_provider_info_loads_without_airflow_or_the_hook() -> None:
    layers = tuple(f"airflow_provider_srconnect.{layer}." for layer in _LAYER_PACKAGES)
    code = (
        "import sys; from airflow_provider_srconnect.get_provider_info import get_provider_info; "
        "get_provider_info(); "
        f"print(sorted(m for m in sys.modules if m == 'airflow' or m.startswith(('airflow.', *{layers!r}))))"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True)

    assert result.stdout.strip() == "[]"


def test_entry_point_is_registered() -> None:
    (entry_point,) = [
        ep
        for ep in importlib.metadata.entry_points(group="apache_airflow_provider")
        if ep.value.startswith("airflow_provider_srconnect.")
    ]

    assert entry_point.value == "airflow_provider_srconnect.get_provider_info:get_provider_info"
    assert entry_point.dist is not None and entry_point.dist.name == "airflow-provider-srconnect"
    assert entry_point.load()() == get_provider_info()


@pytest.mark.usefixtures("airflow_db")
def test_airflow_cli_lists_the_provider_and_stores_a_srconnect_connection() -> None:
    # The two independent calls run side by side: each `airflow` start costs about 2 s.
    providers = _airflow("providers", "list", "--output", "json")
    add = _airflow(
        "connections", "add", "srconnect_test",
        "--conn-type", "srconnect",
        "--conn-host", "http://127.0.0.1:1",
        "--conn-login", "a@example.com",
        "--conn-password", "k",
        "--conn-extra", '{"team_id":"team-1"}',
    )  # fmt: skip
    listed = {p["package_name"]: p["version"] for p in _json(_output(providers))}
    _output(add)
    (stored,) = _json(_output(_airflow("connections", "get", "srconnect_test", "--output", "json")))

    assert listed.get("airflow-provider-srconnect") == __version__
    # `connections add` silently stores an unknown --conn-type as "generic": this also proves that
    # Airflow found the hook class that provider info names.
    assert stored["conn_type"] == "srconnect"
    assert (stored["host"], stored["login"]) == ("http://127.0.0.1:1", "a@example.com")
    assert stored["extra_dejson"] == {"team_id": "team-1"}


def changelog_releases() -> list[tuple[str, str]]:
    """(version, date) of each ``## [x.y.z] - YYYY-MM-DD`` heading of CHANGELOG.md, newest first."""
    return re.findall(r"^## \[(\d+\.\d+\.\d+)\] - (\d{4}-\d{2}-\d{2})$", CHANGELOG.read_text(), re.MULTILINE)


def test_the_changelog_is_in_keep_a_changelog_form() -> None:
    text = CHANGELOG.read_text()
    versions = re.findall(r"^## (.+)$", text, re.MULTILINE)
    kinds = set(re.findall(r"^### (.+)$", text, re.MULTILINE))
    releases = changelog_releases()

    assert text.startswith("# Changelog\n")
    assert versions[0] == "[Unreleased]", "the first section collects what is not released yet"
    assert len(versions) == len(releases) + 1, f"a heading is not `## [x.y.z] - YYYY-MM-DD`: {versions}"
    assert kinds <= set(_CHANGE_KINDS), f"use only {_CHANGE_KINDS} as subsections, not {kinds - set(_CHANGE_KINDS)}"
    numbers = [tuple(int(part) for part in version.split(".")) for version, _ in releases]
    assert numbers == sorted(numbers, reverse=True), "newest release first"
    assert [date for _, date in releases] == sorted((date for _, date in releases), reverse=True)
    for name in ["Unreleased", *(version for version, _ in releases)]:
        assert re.search(rf"^\[{re.escape(name)}\]: \S+$", text, re.MULTILINE), f"no link reference for [{name}]"


def test_the_changelog_s_latest_release_is_the_package_version() -> None:
    """The version is written once (``__version__``); the changelog's newest release must name it."""
    (latest, _), *_ = changelog_releases()

    assert latest == __version__, (
        f"CHANGELOG.md's latest release is {latest}, the package is {__version__}: "
        "move the Unreleased entries under a new heading when bumping __version__"
    )
    assert get_provider_info()["versions"] == [__version__]
