"""The package as a user gets it: build the wheel and sdist, install the wheel into a fresh virtualenv, run a DAG.

Everything else in the suite runs against the editable tree, which hides packaging mistakes: a data file
the wheel leaves out (``py.typed``, a schema file, sandbox data), a module that imports something the
package does not declare, a provider entry point that only works from the source folder. Here:

1. the files a clean clone would have (``git ls-files``, plus files not yet committed and not ignored) are
   copied to a temporary folder, and ``python -m build`` makes the sdist and, from it, the wheel;
2. ``twine check --strict`` passes for both; the wheel holds every file of the package and nothing else,
   the sdist holds the tests, example DAGs, docs, README, CHANGELOG and license files;
3. a fresh virtualenv (no pip of its own: this venv's pip installs into it) gets the wheel alone,
   pinned by ``constraints/``, without extras: the daily example DAG in local mode needs none;
4. from that venv, with its own SQLite Airflow home and the working directory outside the repository:
   the package is imported from the venv's site-packages, ``airflow providers list`` and ``airflow providers
   get`` know the provider, the sandbox starts from the installed package, and ``airflow dags test
   srconnect_invocations_daily`` writes an archive equal to the sandbox's ground truth.

About 70 s on 2 cores, most of it the install (the build ~10 s, the DAG run ~15 s).
"""

from __future__ import annotations

import email.parser
import gzip
import hashlib
import importlib.metadata
import json
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import IO, Any

import pendulum
import pytest

from airflow_provider_srconnect import __version__
from airflow_provider_srconnect.export import archive_keys
from airflow_provider_srconnect.get_provider_info import PACKAGE_NAME
from airflow_provider_srconnect.sandbox import DEFAULT_API_KEY, DEFAULT_EMAIL, DEFAULT_TEAM, SandboxConfig
from airflow_provider_srconnect.sandbox.window import Dataset, GroundTruth
from airflow_provider_srconnect.windows import LogWindow
from tests.conftest import REPO_ROOT, stop_process_group
from tests.e2e.archive import assert_logs_only_on_failed, decode, without_logs
from tests.test_packaging import changelog_releases

pytestmark = pytest.mark.e2e

PACKAGE = "airflow_provider_srconnect"
DIST = PACKAGE_NAME.replace("-", "_")
DAG_ID = "srconnect_invocations_daily"
#: The sandbox's data: the same seed here (ground truth) and in the installed sandbox (served).
SANDBOX = SandboxConfig(seed=11, invocations_per_hour=20)
#: Seconds for one step; the install normally takes 30-45 s, an `airflow` command 3-15 s.
BUILD_TIMEOUT = 300
INSTALL_TIMEOUT = 600
CLI_TIMEOUT = 180
#: Files a source tree may hold that no sdist should carry.
JUNK = ("__pycache__", ".pyc", ".pyo")


def run(args: list[str], *, timeout: float, cwd: Path | None = None, env: dict[str, str] | None = None) -> str:
    """Run a command; fail the test with its output if it fails or hangs. Returns stdout."""
    try:
        result = subprocess.run(
            args, capture_output=True, text=True, timeout=timeout, stdin=subprocess.DEVNULL, cwd=cwd, env=env
        )
    except subprocess.TimeoutExpired as timed_out:
        # The captured output of a timed-out run comes back as bytes, even with text=True.
        out, err = (
            x.decode(errors="replace") if isinstance(x, bytes) else x or ""
            for x in (timed_out.stdout, timed_out.stderr)
        )
        pytest.fail(f"{args[:4]} timed out after {timeout} s:\n{out}\n{err}")
    if result.returncode != 0:
        pytest.fail(f"{args[:4]} exited {result.returncode}:\n{result.stdout[-5000:]}\n{result.stderr[-5000:]}")
    return str(result.stdout)


def source_files() -> list[str]:
    """The repository's files as a clean clone after a commit would hold them (relative POSIX paths)."""
    if (REPO_ROOT / ".git").exists() and shutil.which("git"):
        listed = run(
            ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"], timeout=60, cwd=REPO_ROOT
        ).split("\0")
        return sorted(name for name in listed if name and (REPO_ROOT / name).is_file())
    # An unpacked sdist: no git, and nothing in it is junk except caches.
    return sorted(
        p.relative_to(REPO_ROOT).as_posix()
        for p in REPO_ROOT.rglob("*")
        if p.is_file() and not any(part in JUNK or part.startswith(".") for part in p.relative_to(REPO_ROOT).parts)
    )


@dataclass(frozen=True)
class Built:
    """The built distributions and the source files they were built from."""

    sources: list[str]
    wheel: Path
    sdist: Path

    def wheel_names(self) -> set[str]:
        with zipfile.ZipFile(self.wheel) as whl:
            return set(whl.namelist())

    def sdist_names(self) -> set[str]:
        """Paths inside the sdist, without its top folder ``name-version/``."""
        with tarfile.open(self.sdist) as tar:
            return {PurePosixPath(*PurePosixPath(m.name).parts[1:]).as_posix() for m in tar.getmembers() if m.isfile()}

    def wheel_metadata(self) -> email.message.Message:
        with zipfile.ZipFile(self.wheel) as whl:
            return email.parser.Parser().parsestr(whl.read(f"{DIST}-{__version__}.dist-info/METADATA").decode())


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Built:
    """``python -m build`` (isolated, as a release would) over a copy of the repository's files."""
    src = tmp_path_factory.mktemp("src")
    sources = source_files()
    for name in sources:
        target = src / name
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(REPO_ROOT / name, target)
    dist = tmp_path_factory.mktemp("dist")
    run([sys.executable, "-m", "build", "--outdir", str(dist), str(src)], timeout=BUILD_TIMEOUT)
    (wheel,) = dist.glob("*.whl")
    (sdist,) = dist.glob("*.tar.gz")
    return Built(sources, wheel, sdist)


def test_twine_check_strict_passes(built: Built) -> None:
    out = run([sys.executable, "-m", "twine", "check", "--strict", str(built.wheel), str(built.sdist)], timeout=120)
    assert out.count("PASSED") == 2, out


def test_the_wheel_holds_every_file_of_the_package_and_nothing_else(built: Built) -> None:
    names = built.wheel_names()
    package_files = {name for name in built.sources if name.startswith(f"{PACKAGE}/")}

    missing = package_files - names
    assert not missing, f"the wheel lacks package files (package data in setup.cfg / MANIFEST.in?): {sorted(missing)}"
    assert f"{PACKAGE}/py.typed" in names
    outside = {n for n in names if not n.startswith((f"{PACKAGE}/", f"{DIST}-{__version__}.dist-info/"))}
    assert not outside, f"the wheel carries files outside the package: {sorted(outside)}"
    assert not {n for n in names if any(part in JUNK or n.endswith(JUNK) for part in n.split("/"))}
    licenses = {Path(name).name for name in built.sources if "/" not in name and name.upper().startswith("LICEN")}
    assert licenses <= {Path(n).name for n in names if ".dist-info/" in n}, "license files belong in the wheel"


def test_the_wheel_declares_the_version_and_the_provider_entry_point(built: Built) -> None:
    """One version everywhere: ``__version__``, the wheel's metadata and the changelog's latest release."""
    metadata = built.wheel_metadata()
    (latest_release, _), *_ = changelog_releases()
    with zipfile.ZipFile(built.wheel) as whl:
        entry_points = whl.read(f"{DIST}-{__version__}.dist-info/entry_points.txt").decode()

    assert metadata["Name"] == PACKAGE_NAME
    assert metadata["Version"] == __version__ == latest_release
    assert built.wheel.name == f"{DIST}-{__version__}-py3-none-any.whl"
    assert built.sdist.name == f"{DIST}-{__version__}.tar.gz"
    assert metadata["Description-Content-Type"] == "text/markdown"
    assert "[apache_airflow_provider]" in entry_points
    assert "provider_info = airflow_provider_srconnect.get_provider_info:get_provider_info" in entry_points


def test_the_sdist_holds_sources_tests_examples_and_docs(built: Built) -> None:
    names = built.sdist_names()
    wanted = {
        name
        for name in built.sources
        if name.startswith((f"{PACKAGE}/", "tests/", "example_dags/", "docs/"))
        or name in {"README.md", "CHANGELOG.md", "pyproject.toml", "setup.cfg"}
        or ("/" not in name and name.upper().startswith("LICEN"))
    }

    assert {"README.md", "CHANGELOG.md", "pyproject.toml", "PKG-INFO"} <= names
    assert not wanted - names, f"the sdist lacks: {sorted(wanted - names)}"
    assert not {n for n in names if n.endswith(JUNK) or "/__pycache__/" in n}
    assert not {n for n in names if n.startswith((".venv/", "bench/", ".demo/", ".git/"))}


# --- The wheel in a fresh virtualenv --------------------------------------------------------------------


@dataclass(frozen=True)
class Venv:
    """A fresh virtualenv with the wheel installed, and an environment for running Airflow from it."""

    root: Path
    work: Path
    env: dict[str, str]

    @property
    def python(self) -> str:
        return str(self.root / "bin" / "python")

    @property
    def airflow(self) -> str:
        return str(self.root / "bin" / "airflow")

    def run(self, *args: str, timeout: float = CLI_TIMEOUT) -> str:
        return run(list(args), timeout=timeout, cwd=self.work, env=self.env)

    def start(self, *args: str) -> Background:
        """Start a command in the background (each `airflow` start costs seconds: overlap them)."""
        return Background(list(args), self.work, dict(self.env))


class Background:
    """A command running in the background; ``result`` waits for it and fails the test like ``run``."""

    def __init__(self, args: list[str], cwd: Path, env: dict[str, str]) -> None:
        self.args = args
        # Files, not pipes: nobody reads while it runs. result() closes them.
        self._out = tempfile.TemporaryFile(mode="w+")  # noqa: SIM115
        self._err = tempfile.TemporaryFile(mode="w+")  # noqa: SIM115
        self._process = subprocess.Popen(
            args, cwd=cwd, env=env, stdout=self._out, stderr=self._err, stdin=subprocess.DEVNULL, text=True
        )

    def result(self, timeout: float = CLI_TIMEOUT) -> str:
        """Wait for the command; return its stdout."""
        try:
            code: int | None = self._process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self._process.kill()
            self._process.wait()
            code = None
        out, err = (self._read(f) for f in (self._out, self._err))
        if code != 0:
            what = f"timed out after {timeout} s" if code is None else f"exited {code}"
            pytest.fail(f"{self.args[:4]} {what}:\n{out[-5000:]}\n{err[-5000:]}")
        return out

    @staticmethod
    def _read(file: IO[str]) -> str:
        file.seek(0)
        text = file.read()
        file.close()
        return text


def constraints_file() -> Path:
    """The constraints of the Airflow line and Python version this test runs on."""
    airflow_major = importlib.metadata.version("apache-airflow").split(".")[0]
    python = "{}.{}".format(*sys.version_info[:2])
    path = REPO_ROOT / "constraints" / f"constraints-airflow{airflow_major}-py{python}.txt"
    assert path.is_file(), f"no {path.relative_to(REPO_ROOT)}: run scripts/refresh-constraints"
    return path


def clean_environment(work: Path) -> dict[str, str]:
    """This process's environment without anything that points at the repository, its venv or its Airflow."""
    drop = ("AIRFLOW", "SRCONNECT_", "PYTHON", "VIRTUAL_ENV", "STORAGE_EMULATOR_HOST")
    env = {name: value for name, value in os.environ.items() if not name.startswith(drop)}
    home = work / "airflow-home"
    env.update(
        AIRFLOW_HOME=str(home),
        AIRFLOW__CORE__DAGS_FOLDER=str(work / "dags"),
        AIRFLOW__CORE__LOAD_EXAMPLES="False",
        AIRFLOW__DATABASE__SQL_ALCHEMY_CONN=f"sqlite:///{home}/airflow.db",
        NO_GCE_CHECK="True",
        AWS_EC2_METADATA_DISABLED="true",
    )
    return env


@pytest.fixture(scope="module")
def venv(built: Built, tmp_path_factory: pytest.TempPathFactory) -> Venv:
    """The wheel, alone and pinned, in a new virtualenv; the work folder (cwd) is outside the repository."""
    root = tmp_path_factory.mktemp("venv")
    work = tmp_path_factory.mktemp("work")
    run([sys.executable, "-m", "venv", "--without-pip", str(root)], timeout=120)
    # This venv's pip installs into the new one (`--python`): no ensurepip, and the pinned pip version.
    run(
        [
            sys.executable, "-m", "pip", "--python", str(root / "bin" / "python"), "install",
            "--no-input", "--disable-pip-version-check", "-qq",
            "-c", str(constraints_file()), str(built.wheel),
        ],
        timeout=INSTALL_TIMEOUT,
    )  # fmt: skip
    return Venv(root, work, clean_environment(work))


@pytest.fixture(scope="module")
def migrated(venv: Venv) -> Background:
    """``airflow db migrate`` of the venv's own SQLite home, started at once and awaited by the DAG run."""
    return venv.start(venv.airflow, "db", "migrate")


def test_the_package_is_imported_from_the_venv_not_the_repository(venv: Venv, migrated: Background) -> None:
    """(``migrated`` only starts the DB migration early, to overlap with this and the next test.)"""
    code = (
        "import importlib.metadata as md, json, pathlib, airflow_provider_srconnect as p; "
        "d = md.distribution('airflow-provider-srconnect'); "
        "print(json.dumps({'file': p.__file__, 'version': p.__version__, 'dist': d.version, "
        "'direct_url': d.read_text('direct_url.json'), "
        "'typed': (pathlib.Path(p.__file__).parent / 'py.typed').is_file()}))"
    )
    found = json.loads(venv.run(venv.python, "-c", code).strip().splitlines()[-1])

    package_file = Path(found["file"]).resolve()
    assert package_file.is_relative_to(venv.root.resolve()), package_file
    assert "site-packages" in package_file.parts
    assert not package_file.is_relative_to(REPO_ROOT)
    assert found["version"] == found["dist"] == __version__
    assert found["typed"]
    # Installed from the wheel file, not as an editable (or directory) install.
    assert found["direct_url"] is None or '"editable": true' not in found["direct_url"].replace(" ", "")


def test_airflow_from_the_venv_lists_and_describes_the_provider(venv: Venv, migrated: Background) -> None:
    listing = venv.start(venv.airflow, "providers", "list", "--output", "json")
    described = venv.run(venv.airflow, "providers", "get", PACKAGE_NAME, "--full", "--output", "json")

    providers = {p["package_name"]: p["version"] for p in _json(listing.result())}
    (info,) = _json(described)
    assert providers.get(PACKAGE_NAME) == __version__
    assert info["package-name"] == PACKAGE_NAME
    assert info["versions"] == [__version__]
    assert info["connection-types"][0]["connection-type"] == "srconnect"


def _json(stdout: str) -> list[dict[str, Any]]:
    """The JSON list in a CLI's stdout (Airflow may print a log line before it)."""
    for line in [stdout, *stdout.splitlines()]:
        try:
            found = json.loads(line)
        except json.JSONDecodeError:
            continue
        if isinstance(found, list):
            return found
    raise AssertionError(f"no JSON list in the CLI's output:\n{stdout}")


@pytest.fixture(scope="module")
def installed_sandbox(venv: Venv) -> Iterator[str]:
    """``python -m airflow_provider_srconnect.sandbox`` from the venv; yields its URL."""
    process = subprocess.Popen(
        [
            venv.python, "-m", "airflow_provider_srconnect.sandbox", "--host", "127.0.0.1", "--port", "0",
            "--seed", str(SANDBOX.seed), "--invocations-per-hour", str(SANDBOX.invocations_per_hour),
            "--rate-limit", "0",
        ],
        cwd=venv.work,
        env=venv.env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
        text=True,
        start_new_session=True,
    )  # fmt: skip
    try:
        assert process.stdout is not None
        line = process.stdout.readline()  # "SRC sandbox on http://127.0.0.1:PORT email=... ", or an error
        if not line.startswith("SRC sandbox on http://"):
            process.wait(timeout=10)
            pytest.fail(f"the installed sandbox did not start: {line}{process.stdout.read()}")
        yield line.split()[3]
    finally:
        stop_process_group(process)


@pytest.fixture(scope="module")
def dag_run(venv: Venv, migrated: Background, installed_sandbox: str) -> tuple[pendulum.DateTime, Path]:
    """``airflow dags test`` of the daily DAG, in local mode, from the venv; returns (logical date, archive dir)."""
    dags = venv.work / "dags"
    dags.mkdir()
    # Only the DAG under test: the hand-off example needs the amazon provider, which this venv lacks on purpose.
    shutil.copy2(REPO_ROOT / "example_dags" / f"{DAG_ID}.py", dags)
    archive = venv.work / "archive"
    connection = {
        "conn_type": "srconnect",
        "host": installed_sandbox,
        "login": DEFAULT_EMAIL,
        "password": DEFAULT_API_KEY,
        "extra": {"team_id": DEFAULT_TEAM, "rate_limit_per_second": 100, "burst": 100},
    }
    venv.env.update(AIRFLOW_CONN_SRCONNECT_DEFAULT=json.dumps(connection), SRCONNECT_ARCHIVE_DIR=str(archive))
    migrated.result()
    logical_date = pendulum.today("UTC").subtract(days=1)  # archives the day before: settled, within retention
    venv.run(venv.airflow, "dags", "test", DAG_ID, logical_date.to_date_string())
    return logical_date, archive


def test_an_example_dag_run_from_the_venv_archives_the_ground_truth(dag_run: tuple[pendulum.DateTime, Path]) -> None:
    logical_date, archive = dag_run
    window = LogWindow(logical_date.subtract(days=1), logical_date)
    keys = archive_keys("srconnect", "invocations", window)
    written = sorted(p.relative_to(archive).as_posix() for p in archive.rglob("*") if p.is_file())
    local_manifest = keys.data.removesuffix(".jsonl.gz") + ".manifest.json"  # beside the file in local mode
    assert written == [keys.data, local_manifest]

    data = (archive / keys.data).read_bytes()
    manifest = json.loads((archive / local_manifest).read_text())
    records = decode(data)
    truth = GroundTruth(Dataset(SANDBOX)).invocations(DEFAULT_TEAM, window.start, window.end)
    assert len(records) == len(truth) > 0
    assert [without_logs(r) for r in records] == truth
    assert_logs_only_on_failed(records)
    assert gzip.decompress(data).count(b"\n") == len(truth)
    assert manifest["records"] == len(truth)
    assert (manifest["bytes"], manifest["sha256"]) == (len(data), hashlib.sha256(data).hexdigest())
    assert manifest["providerVersion"] == __version__
    assert (pendulum.parse(manifest["window"]["start"]), pendulum.parse(manifest["window"]["end"])) == (
        window.start,
        window.end,
    )
