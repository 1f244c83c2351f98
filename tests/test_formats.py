"""Output formats: Parquet from the schema (lossless, streamed in row groups, deterministic); the schema's page."""

from __future__ import annotations

import dataclasses
import datetime as dt
import gzip
import hashlib
import importlib.util
import io
import json
import logging
import re
import subprocess
import sys
from typing import Any

import duckdb
import pendulum
import pyarrow.parquet as pq
import pytest

from airflow_provider_srconnect import _parquet, contract, schema
from airflow_provider_srconnect._parquet import ParquetRecordWriter, arrow_schema
from airflow_provider_srconnect.destinations.local import LocalDestination
from airflow_provider_srconnect.exceptions import SRConnectParamError
from airflow_provider_srconnect.export import (
    Archived,
    ExportRequest,
    archive_keys,
    manifest,
    write_parquet,
    write_window,
)
from airflow_provider_srconnect.operators.srconnect import SRConnectExportOperator, SRConnectFetchLogsOperator
from airflow_provider_srconnect.publish import CHECKPOINT_KEY, Job, publish
from airflow_provider_srconnect.sandbox import DEFAULT_TEAM, SandboxConfig, logfiles
from airflow_provider_srconnect.sandbox.window import Dataset
from airflow_provider_srconnect.schema import EXTRA, ListOf, Scalar, Struct
from airflow_provider_srconnect.sql import duckdb_view, schema_markdown
from airflow_provider_srconnect.windows import LogWindow
from tests.conftest import REPO_ROOT
from tests.operators.faults import Store
from tests.stub_listing import ListsFromIter

F = contract.InvocationField
NOW = pendulum.datetime(2026, 11, 20, tz="UTC")
WINDOW = LogWindow(pendulum.datetime(2026, 11, 10, tz="UTC"), pendulum.datetime(2026, 11, 10, 12, tz="UTC"))
LOG = logging.getLogger("test-formats")


class SandboxHook(ListsFromIter):
    """The hook's reading methods, served straight from the sandbox's data (no HTTP): realistic records and logs."""

    contract = contract.DEFAULT

    def __init__(self, **config: Any) -> None:
        self.config = SandboxConfig(seed=5, now=NOW, **config)
        self.dataset = Dataset(self.config)

    def _bounds(self, start: Any, end: Any) -> tuple[Any, int, int]:
        moment = self.dataset.moment()
        return (moment, *moment.clamp(start, end))

    def iter_invocation_logs(self, start: Any, end: Any, **query: Any) -> Any:
        moment, lo, hi = self._bounds(start, end)
        return self.dataset.invocations(DEFAULT_TEAM, lo, hi, moment)

    def iter_audit_logs(self, start: Any, end: Any, **query: Any) -> Any:
        _, lo, hi = self._bounds(start, end)
        return self.dataset.audit(DEFAULT_TEAM, lo, hi)

    def _raw(self, invocation: str) -> Any:
        found = self.dataset.find_invocation(invocation)
        assert found is not None and found[1] is not None
        return found[1]

    def get_console_logs(self, invocation: str) -> list[dict[str, Any]]:
        file = logfiles.console_file(self.config.seed, DEFAULT_TEAM, self._raw(invocation))
        return list(file[contract.DEFAULT.log_files.console_wrapper])

    def get_http_logs(self, invocation: str) -> list[dict[str, Any]]:
        return list(
            logfiles.http_file(self.config.seed, self._raw(invocation))[contract.DEFAULT.log_files.http_wrapper]
        )

    def get_large_log_message(self, invocation: str, message_id: str) -> str:
        return logfiles.large_message(self.config.seed, self._raw(invocation))


class ListHook(ListsFromIter):
    """Serves fixed records (one listing) and no logs."""

    def __init__(self, records: list[dict[str, Any]]) -> None:
        self.records = records

    def iter_invocation_logs(self, start: Any, end: Any, **query: Any) -> Any:
        return iter([dict(r) for r in self.records])

    iter_audit_logs = iter_invocation_logs


class Files(list[io.BytesIO]):
    """In-memory files, opened one after another."""

    def open(self) -> io.BytesIO:
        self.append(io.BytesIO())
        return self[-1]


def export(hook: Any, window: LogWindow = WINDOW, **request: Any) -> tuple[bytes, Any]:
    """The window as one data object: gzip NDJSON, or Parquet (which must fit one file)."""
    wanted = ExportRequest(**request)
    if wanted.output_format == "parquet":
        files = Files()
        (result,) = write_parquet(hook, [window], wanted, files.open)
        return files[0].getvalue(), result
    out = io.BytesIO()
    result = write_window(hook, window, wanted, out)
    return out.getvalue(), result


def rebuild(row: dict[str, Any], struct: Struct) -> dict[str, Any]:
    """A Parquet row back as the record it came from, as ``docs/schema.md`` says to read it: typed columns,
    wire times, ``extra`` merged over them, then the exact fields that hold a lone surrogate set over those."""

    def value(kind: Scalar | Struct | ListOf, item: Any) -> Any:
        if item is None:
            return None
        if isinstance(kind, ListOf):
            return [rebuild(one, kind.item) for one in item]
        if isinstance(kind, Struct):
            return {f.name: value(f.type, item[f.name]) for f in kind.fields}
        if kind == schema.TIMESTAMP:
            return contract.format_time(item)
        if kind == schema.JSON:
            return json.loads(item)
        return item

    record = {f.name: value(f.type, row[f.name]) for f in struct.fields}
    extra = json.loads(row[EXTRA]) if row.get(EXTRA) else {}
    exact = extra.pop(schema.SURROGATES_KEY, None)
    merged = merge(record, extra)
    return merged if exact is None else {**merged, **json.loads(exact)}


def merge(base: dict[str, Any], over: dict[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    for key, item in over.items():
        merged[key] = merge(base[key], item) if isinstance(base.get(key), dict) and isinstance(item, dict) else item
    return merged


def without_nulls(item: Any) -> Any:
    """JSON without null members (Parquet reads a missing key and a null one alike)."""
    if isinstance(item, dict):
        return {k: without_nulls(v) for k, v in item.items() if v is not None}
    if isinstance(item, list):
        return [without_nulls(v) for v in item]
    return item


def read_rows(data: bytes) -> list[dict[str, Any]]:
    return pq.read_table(io.BytesIO(data), use_threads=False).to_pylist()


def test_parquet_round_trips_every_record_with_its_logs():
    hook = SandboxHook(invocations_per_hour=25)
    reference, _ = export(hook, include_logs="all")
    data, result = export(hook, include_logs="all", output_format="parquet")

    records = [json.loads(line) for line in gzip.decompress(reference).splitlines()]
    rows = read_rows(data)
    assert result.records == len(rows) == len(records) > 200
    assert any(r.get(schema.CONSOLE_LINES_KEY) for r in records) and any(
        r.get(schema.HTTP_ENTRIES_KEY) for r in records
    )
    assert any(line.get(schema.FULL_MESSAGE_KEY) for r in records for line in r.get(schema.CONSOLE_LINES_KEY, []))
    # Every field the sandbox serves is declared: nothing is left over in any extra column.
    assert all(row[EXTRA] is None for row in rows)
    assert [without_nulls(rebuild(row, schema.INVOCATION)) for row in rows] == [without_nulls(r) for r in records]


def test_audit_records_round_trip():
    hook = SandboxHook(audit_per_hour=30)
    reference, _ = export(hook, log_type="audit")
    data, _ = export(hook, log_type="audit", output_format="parquet")

    records = [json.loads(line) for line in gzip.decompress(reference).splitlines()]
    rows = read_rows(data)
    assert len(rows) == len(records) > 100
    assert [rebuild(row, schema.AUDIT) for row in rows] == records


def test_unknown_fields_and_misfit_values_are_kept_in_extra(tmp_path):
    record = {
        F.ID: "inv-1",
        F.START_TIME: "2026-11-10T01:02:03.456789Z",  # finer than the column's milliseconds
        F.DURATION: "12 s",  # text where a number is declared
        F.WORKSPACE: {contract.NamedField.ID: "w1", contract.NamedField.NAME: "Sync", "colour": "red"},
        F.SCRIPT: "OnIssueCreated",  # text where an object is declared
        "billingUnits": 3,  # a field SRC may add one day
        schema.CONSOLE_LINES_KEY: [{contract.ConsoleLineField.MESSAGE: "hi", "thread": 7}],
    }
    data, _ = export(ListHook([record]), output_format="parquet")

    (row,) = read_rows(data)
    assert row[F.ID] == "inv-1" and row[F.WORKSPACE] == {"id": "w1", "name": "Sync"}
    assert row[F.START_TIME] is None and row[F.DURATION] is None and row[F.SCRIPT] is None
    assert json.loads(row[EXTRA]) == {
        F.START_TIME: "2026-11-10T01:02:03.456789Z",
        F.DURATION: "12 s",
        F.WORKSPACE: {"colour": "red"},
        F.SCRIPT: "OnIssueCreated",
        "billingUnits": 3,
    }
    (line,) = row[schema.CONSOLE_LINES_KEY]
    assert line[contract.ConsoleLineField.MESSAGE] == "hi" and json.loads(line[EXTRA]) == {"thread": 7}
    assert without_nulls(rebuild(row, schema.INVOCATION)) == record
    # The same, through DuckDB.
    path = tmp_path / "x.parquet"
    path.write_bytes(data)
    [(units, colour)] = duckdb.sql(
        f"SELECT json_extract(extra, '$.billingUnits')::INT, json_extract_string(extra, '$.workspace.colour') "
        f"FROM read_parquet('{path}')"
    ).fetchall()
    assert (units, colour) == (3, "red")


def test_epoch_millisecond_times_fill_the_timestamp_column():
    data, _ = export(ListHook([{F.ID: "a", F.START_TIME: 1_762_736_523_456}]), output_format="parquet")
    (row,) = read_rows(data)
    assert row[F.START_TIME] == dt.datetime(2025, 11, 10, 1, 2, 3, 456000, tzinfo=dt.UTC) and row[EXTRA] is None


@pytest.mark.parametrize(
    ("wire", "column"),
    [
        ("0001-01-01T00:00:00.000Z", dt.datetime(1, 1, 1, tzinfo=dt.UTC)),
        ("9999-12-31T23:59:59.999Z", dt.datetime(9999, 12, 31, 23, 59, 59, 999000, tzinfo=dt.UTC)),
        ("2026-11-10T01:02:03.456+02:00", dt.datetime(2026, 11, 9, 23, 2, 3, 456000, tzinfo=dt.UTC)),
        (-1, dt.datetime(1969, 12, 31, 23, 59, 59, 999000, tzinfo=dt.UTC)),
        (253_402_300_800_000, None),  # epoch ms past year 9999: kept in extra
    ],
)
def test_times_at_the_edges_fill_the_column_or_go_whole_to_extra(wire, column):
    data, _ = export(ListHook([{F.ID: "a", F.START_TIME: wire}]), output_format="parquet")
    (row,) = read_rows(data)
    assert row[F.START_TIME] == column
    assert (row[EXTRA] is None) == (column is not None)
    assert column is not None or json.loads(row[EXTRA]) == {F.START_TIME: wire}


def test_writing_parquet_does_not_import_pandas():
    """pyarrow's list conversions import pandas when it is installed (~45 MB in a task); the writer does not."""
    if importlib.util.find_spec("pandas") is None:
        pytest.skip("pandas is not installed here, so nothing could import it")
    code = (
        "import io, sys\n"
        "from airflow_provider_srconnect._parquet import ParquetRecordWriter\n"
        "with ParquetRecordWriter(io.BytesIO(), 'invocations') as writer:\n"
        "    writer.write({'invocationId': 'a', 'startTime': '2026-11-10T01:02:03.456Z'})\n"
        "assert writer.row_groups == 1\n"
        "sys.exit('pandas' in sys.modules)\n"
    )
    assert subprocess.run([sys.executable, "-c", code], check=False).returncode == 0


def big(n: int, text: int = 10) -> dict[str, Any]:
    return {F.ID: f"inv-{n:06d}", F.START_TIME: 1_762_736_523_000 + n, F.EXECUTION_STATUS: "X" * text}


def row_groups(data: bytes) -> list[int]:
    meta = pq.ParquetFile(io.BytesIO(data)).metadata
    return [meta.row_group(i).num_rows for i in range(meta.num_row_groups)]


def test_rows_are_written_in_row_groups_of_bounded_count_while_streaming():
    out = io.BytesIO()
    written_before_the_end = []
    with ParquetRecordWriter(out, "invocations", row_group_rows=1000) as writer:
        for n in range(10_500):
            writer.write(big(n))
            if n == 5_000:
                written_before_the_end.append(out.tell())
    assert row_groups(out.getvalue()) == [1000] * 10 + [500]
    assert written_before_the_end[0] > 0, "row groups go out while records still arrive"


def test_row_groups_also_close_on_the_text_they_hold():
    out = io.BytesIO()
    with ParquetRecordWriter(out, "invocations", row_group_text=1 << 20) as writer:
        for n in range(100):
            writer.write(big(n, text=100_000))  # ~100 kB each: about 11 per MB
    sizes = row_groups(out.getvalue())
    assert sum(sizes) == 100 and max(sizes) <= 11 and len(sizes) >= 9


def test_parquet_bytes_are_the_same_on_a_rerun_and_name_their_writer():
    hook = SandboxHook(invocations_per_hour=30)
    first, result = export(hook, include_logs="failed", output_format="parquet", log_workers=6)
    second, _ = export(hook, include_logs="failed", output_format="parquet", log_workers=2)
    assert first == second
    assert pq.ParquetFile(io.BytesIO(first)).metadata.created_by.startswith("parquet-cpp-arrow")
    assert pq.ParquetFile(io.BytesIO(first)).metadata.row_group(0).column(0).compression == "ZSTD"

    started = pendulum.datetime(2026, 11, 20, 1, tz="UTC")
    body = json.loads(
        manifest(
            WINDOW,
            ExportRequest(output_format="parquet"),
            Archived((("s3://b/k.parquet", result),)),
            started=started,
            finished=started,
        )
    )
    assert body["format"] == "parquet" and body["schemaVersion"] == schema.SCHEMA_VERSION
    assert body["parquet"]["writer"].startswith("pyarrow ") and body["parquet"]["compression"] == "zstd"


def test_an_empty_window_is_a_valid_empty_file():
    data, result = export(ListHook([]), output_format="parquet")
    assert result.records == 0 and pq.read_table(io.BytesIO(data), use_threads=False).num_rows == 0
    assert pq.read_schema(io.BytesIO(data)).names == arrow_schema("invocations").names


def test_keys_take_the_formats_suffix():
    keys = archive_keys("src", "audit", WINDOW, "parquet")
    assert keys.data == "src/audit/dt=2026-11-10/20261110T000000Z_20261110T120000Z.parquet"
    assert keys.manifest == "src/_manifests/audit/dt=2026-11-10/20261110T000000Z_20261110T120000Z.manifest.json"


def test_sub_windows_end_row_groups_in_one_file_and_are_never_staged(tmp_path, caplog):
    hook = SandboxHook(invocations_per_hour=30)
    destination = LocalDestination(tmp_path)
    request = ExportRequest(output_format="parquet")
    keys = archive_keys("p", "invocations", WINDOW, "parquet")
    store = Store()

    with caplog.at_level(logging.INFO, logger=LOG.name):
        result = publish(hook, Job(WINDOW, request, keys, dt.timedelta(hours=3)), destination, store, LOG)

    files = sorted(p.relative_to(tmp_path).as_posix() for p in tmp_path.rglob("*") if p.is_file())
    assert files == sorted([keys.data, keys.manifest]), "no staging objects"
    assert CHECKPOINT_KEY not in store.values and "not resumable" in caplog.text
    data = (tmp_path / keys.data).read_bytes()
    whole, _ = export(hook, output_format="parquet")
    assert pq.read_table(io.BytesIO(data), use_threads=False).equals(
        pq.read_table(io.BytesIO(whole), use_threads=False)
    )  # the same rows
    assert len(row_groups(data)) == 4 and len(row_groups(whole)) == 1  # one per sub-window
    assert result.records == sum(row_groups(data))
    assert json.loads((tmp_path / keys.manifest).read_text())["format"] == "parquet"


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def files_under(root: Any) -> list[str]:
    return sorted(p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file())


def test_a_window_past_the_files_row_groups_goes_on_in_more_files(tmp_path, monkeypatch):
    hook = SandboxHook(invocations_per_hour=30)
    destination = LocalDestination(tmp_path)
    keys = archive_keys("p", "invocations", WINDOW, "parquet")
    job = Job(WINDOW, ExportRequest(output_format="parquet"), keys, dt.timedelta(hours=2))  # 6 row groups
    monkeypatch.setattr(_parquet, "FILE_ROW_GROUPS", 4)

    archived = publish(hook, job, destination, None, LOG)

    names = [keys.data, keys.data.removesuffix(".parquet") + "-0001.parquet"]
    assert files_under(tmp_path) == sorted([*names, keys.manifest])
    datas = [(tmp_path / name).read_bytes() for name in names]
    assert [len(row_groups(data)) for data in datas] == [4, 2]
    whole, _ = export(hook, output_format="parquet")
    rows = [row for data in datas for row in read_rows(data)]
    assert rows == read_rows(whole)  # the same rows, in order
    body = json.loads((tmp_path / keys.manifest).read_text())
    assert body["objects"] == [
        {"uri": str(tmp_path / name), "records": len(read_rows(data)), "bytes": len(data), "sha256": sha256(data)}
        for name, data in zip(names, datas, strict=True)
    ]
    assert (body["dataObject"], body["sha256"]) == (str(tmp_path / names[0]), sha256(datas[0]))
    assert (body["records"], body["bytes"]) == (len(rows), sum(map(len, datas))) == (archived.records, archived.bytes)

    assert publish(hook, job, destination, None, LOG) == archived  # a rerun: the same files
    assert [(tmp_path / name).read_bytes() for name in names] == datas

    monkeypatch.setattr(_parquet, "FILE_ROW_GROUPS", 6)
    rewritten = publish(hook, job, destination, None, LOG)  # now one file: the second one goes
    assert files_under(tmp_path) == sorted([keys.data, keys.manifest])
    assert read_rows((tmp_path / keys.data).read_bytes()) == rows
    assert [uri for uri, _ in rewritten.objects] == [str(tmp_path / keys.data)]
    assert len(json.loads((tmp_path / keys.manifest).read_text())["objects"]) == 1


def test_a_parquet_export_that_fails_leaves_the_published_files_as_they_were(tmp_path, monkeypatch):
    destination = LocalDestination(tmp_path)
    keys = archive_keys("p", "invocations", WINDOW, "parquet")
    job = Job(WINDOW, ExportRequest(output_format="parquet"), keys, dt.timedelta(hours=2))
    monkeypatch.setattr(_parquet, "FILE_ROW_GROUPS", 2)
    publish(SandboxHook(invocations_per_hour=30), job, destination, None, LOG)
    before = {name: (tmp_path / name).read_bytes() for name in files_under(tmp_path)}
    assert len(before) == 4  # three files and the manifest

    class FailsLate(SandboxHook):
        """Serves the first sub-windows of a denser dataset, then fails."""

        calls = 0

        def iter_invocation_logs(self, start: Any, end: Any, **query: Any) -> Any:
            self.calls += 1
            if self.calls == 5:
                raise RuntimeError("the API went away")
            return super().iter_invocation_logs(start, end, **query)

    with pytest.raises(RuntimeError, match="went away"):
        publish(FailsLate(invocations_per_hour=90), job, destination, None, LOG)
    assert {name: (tmp_path / name).read_bytes() for name in files_under(tmp_path)} == before


def test_jsonl_and_parquet_give_the_same_rows_in_duckdb(tmp_path):
    hook = SandboxHook(invocations_per_hour=30, audit_per_hour=20)
    for output_format in ("jsonl.gz", "parquet"):
        for log_type, include_logs in (("invocations", "failed"), ("audit", "none")):
            keys = archive_keys(output_format, log_type, WINDOW, output_format)
            path = tmp_path / keys.data
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(export(hook, log_type=log_type, include_logs=include_logs, output_format=output_format)[0])
    answers = {}
    for output_format in ("jsonl.gz", "parquet"):
        con = duckdb.connect()
        for log_type in ("invocations", "audit"):
            con.execute(duckdb_view(log_type, output_format, str(tmp_path / output_format)))
        answers[output_format] = [
            con.execute(f"SELECT dt, {columns(record)} FROM {log_type} ORDER BY 2").fetchall()
            for log_type, record in schema.RECORDS.items()
        ]
    jsonl, parquet = answers["jsonl.gz"], answers["parquet"]
    assert len(jsonl[0]) > 100 and len(jsonl[1]) > 100
    assert normalize(jsonl) == normalize(parquet)


def columns(record: Struct) -> str:
    """The record's declared columns (not its extra), quoted for SQL."""
    return ", ".join(f'"{f.name}"' for f in record.fields)


def normalize(item: Any) -> Any:
    """DuckDB answers with JSON values as text (Parquet) or as JSON (JSON Lines), list items' extra dropped."""
    if isinstance(item, (list, tuple)):
        return [normalize(v) for v in item]
    if isinstance(item, dict):
        return {k: normalize(v) for k, v in item.items() if k != EXTRA}
    if isinstance(item, str) and item[:1] in "{[":
        try:
            return json.loads(item)
        except ValueError:  # text that only looks like JSON (a cut body)
            return item
    return item


def test_a_bad_format_is_refused_before_anything_is_read():
    with pytest.raises(SRConnectParamError) as error:
        ExportRequest(output_format="csv")  # type: ignore[arg-type]
    assert error.value.param == "output_format" and "'jsonl.gz' or 'parquet'" in str(error.value)


def test_without_pyarrow_parquet_is_a_typed_error_naming_the_extra(monkeypatch):
    monkeypatch.setitem(sys.modules, "pyarrow", None)
    monkeypatch.setitem(sys.modules, "pyarrow.parquet", None)
    with pytest.raises(SRConnectParamError) as error:
        ExportRequest(output_format="parquet")
    assert error.value.param == "output_format" and "airflow-provider-srconnect[parquet]" in str(error.value)
    ExportRequest(output_format="jsonl.gz")  # the default format needs no pyarrow


def test_a_templated_format_is_checked_once_rendered(tmp_path):
    op = SRConnectFetchLogsOperator(task_id="t", path=str(tmp_path / "x.parquet"), output_format="{{ params.fmt }}")
    assert "output_format" in op.template_fields
    op.output_format = "xml"  # what rendering gave
    with pytest.raises(SRConnectParamError, match="output_format"):
        op._request()


def test_fetch_logs_refuses_a_file_name_of_the_other_format(tmp_path):
    op = SRConnectFetchLogsOperator(task_id="t", path=str(tmp_path / "x.jsonl.gz"), output_format="parquet")
    with pytest.raises(SRConnectParamError, match="path"):
        op.keys(WINDOW)
    ok = SRConnectFetchLogsOperator(task_id="u", path=str(tmp_path / "x.parquet"), output_format="parquet")
    assert ok.keys(WINDOW).manifest == "x.manifest.json"


# --- The schema and its page ----------------------------------------------------------------------


def test_every_assumed_field_rests_on_a_group_of_the_contract():
    groups = {f.name for f in dataclasses.fields(contract.Contract)}
    assert schema.contract_groups() and schema.contract_groups() <= groups


def test_the_schema_page_states_the_row_group_bounds_in_use():
    from airflow_provider_srconnect._parquet import ROW_GROUP_ROWS, ROW_GROUP_TEXT

    text = " ".join(schema_markdown().split())
    assert f"at most {ROW_GROUP_ROWS:,} records or about {ROW_GROUP_TEXT >> 20} MB of text each" in text


def test_the_docs_state_the_files_row_group_bound_in_use():
    from airflow_provider_srconnect._parquet import FILE_ROW_GROUPS, ROW_GROUP_ROWS

    pages = ["archive-layout.md", "assets-and-lineage.md", "operators/srconnect_to_s3.md"]
    texts = [schema_markdown(), *((REPO_ROOT / "docs" / page).read_text() for page in pages)]
    texts.append((REPO_ROOT / "README.md").read_text())
    texts += [str(SRConnectExportOperator.__doc__), str(SRConnectFetchLogsOperator.__doc__)]
    for text in (" ".join(text.split()) for text in texts):
        bounds = re.findall(r"(\d[\d,]*) row groups", text)
        assert bounds and set(bounds) == {str(FILE_ROW_GROUPS)}, text[:80]
        assert set(re.findall(r"row groups \(([\d,]+) records", text)) <= {f"{FILE_ROW_GROUPS * ROW_GROUP_ROWS:,}"}


def test_docs_schema_md_is_up_to_date():
    page = (REPO_ROOT / "docs" / "schema.md").read_text()
    assert page == schema_markdown(REPO_ROOT / "docs" / "queries"), (
        "docs/schema.md is stale: run `python -m airflow_provider_srconnect.schema > docs/schema.md`"
    )
