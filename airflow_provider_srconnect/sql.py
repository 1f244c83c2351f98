"""SQL over an archive, made from ``schema``: DuckDB views, Athena and BigQuery external tables, and ``docs/schema.md``.

Each log type's folder (``{prefix}/{log_type}/``) is a table partitioned by ``dt`` (Hive-style
``dt=YYYY-MM-DD`` folders). The views and tables below read it in place, in either format; the
example queries in ``docs/queries/`` are written against the DuckDB views, and run unchanged on both.
"""

from __future__ import annotations

from pathlib import Path
from typing import Final

from airflow_provider_srconnect import contract
from airflow_provider_srconnect.schema import (
    ADDED,
    BOOL,
    CONFIRMED,
    EXTRA,
    INT64,
    JSON,
    RECORDS,
    SCHEMA_VERSION,
    STRING,
    TIMESTAMP,
    Field,
    ListOf,
    Scalar,
    Struct,
)

#: The glob of each format's data objects in a ``dt=`` folder (one format per table).
GLOBS: Final = {"jsonl.gz": "*.jsonl.gz", "parquet": "*.parquet"}
#: The partition column.
PARTITION: Final = "dt"


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def duckdb_type(kind: Scalar | Struct | ListOf, *, parquet: bool) -> str:
    """The DuckDB type of a field (JSON text is ``JSON`` when read from JSON Lines, ``VARCHAR`` in Parquet)."""
    if isinstance(kind, ListOf):
        return duckdb_type(kind.item, parquet=parquet) + "[]"
    if isinstance(kind, Struct):
        fields = [f"{_quote(f.name)} {duckdb_type(f.type, parquet=parquet)}" for f in kind.fields]
        if kind.extra and parquet:
            fields.append(f"{_quote(EXTRA)} VARCHAR")
        return f"STRUCT({', '.join(fields)})"
    if kind == JSON:
        return "VARCHAR" if parquet else "JSON"
    return {STRING: "VARCHAR", INT64: "BIGINT", BOOL: "BOOLEAN", TIMESTAMP: "TIMESTAMPTZ"}[kind]


def duckdb_view(log_type: str, output_format: str, root: str, *, name: str | None = None) -> str:
    """``CREATE VIEW`` of one log type's records under ``root`` (the archive's prefix: a folder or ``s3://…``).

    Both formats give the same typed columns and ``dt`` (DATE); Parquet adds the ``extra`` columns.
    JSON Lines is read with the schema's columns, so times are TIMESTAMPTZ there too.
    """
    location = f"{root.rstrip('/')}/{log_type}/{PARTITION}=*/{GLOBS[output_format]}".replace("'", "''")
    view = _quote(name or log_type)
    if output_format == "parquet":
        source = f"read_parquet('{location}', hive_partitioning = true, union_by_name = true)"
    else:
        columns = ",\n        ".join(
            f"'{f.name}': '{duckdb_type(f.type, parquet=False)}'" for f in RECORDS[log_type].fields
        )
        source = (
            f"read_json(\n    '{location}',\n    format = 'newline_delimited',\n    hive_partitioning = true,\n"
            f"    columns = {{\n        {columns}\n    }}\n)"
        )
    return f"CREATE OR REPLACE VIEW {view} AS\nSELECT * FROM {source};"


def _hive_type(kind: Scalar | Struct | ListOf, *, parquet: bool) -> str:
    if isinstance(kind, ListOf):
        return f"array<{_hive_type(kind.item, parquet=parquet)}>"
    if isinstance(kind, Struct):
        fields = [f"`{f.name}`:{_hive_type(f.type, parquet=parquet)}" for f in kind.fields]
        if kind.extra and parquet:
            fields.append(f"`{EXTRA}`:string")
        return f"struct<{','.join(fields)}>"
    if kind == TIMESTAMP:
        return "timestamp" if parquet else "string"
    return {STRING: "string", JSON: "string", INT64: "bigint", BOOL: "boolean"}[kind]


def athena_ddl(log_type: str, output_format: str) -> str:
    """An Athena table over ``s3://BUCKET/PREFIX/{log_type}/``, its ``dt`` partitions found by projection."""
    parquet = output_format == "parquet"
    record = RECORDS[log_type]
    columns = [f"  `{f.name}` {_hive_type(f.type, parquet=parquet)}" for f in record.fields]
    if parquet:
        columns.append(f"  `{EXTRA}` string")
    location = f"s3://BUCKET/PREFIX/{log_type}/"
    storage = "STORED AS PARQUET" if parquet else "ROW FORMAT SERDE 'org.openx.data.jsonserde.JsonSerDe'"
    table = f"srconnect_{log_type}" + ("" if parquet else "_json")
    column_list = ",\n".join(columns)
    return (
        f"CREATE EXTERNAL TABLE {table} (\n{column_list}\n)\n"
        f"PARTITIONED BY (`{PARTITION}` string)\n{storage}\nLOCATION '{location}'\n"
        "TBLPROPERTIES (\n"
        "  'projection.enabled' = 'true',\n"
        f"  'projection.{PARTITION}.type' = 'date',\n"
        f"  'projection.{PARTITION}.format' = 'yyyy-MM-dd',\n"
        f"  'projection.{PARTITION}.range' = '2024-01-01,NOW',\n"
        f"  'storage.location.template' = '{location}{PARTITION}=${{{PARTITION}}}/'\n"
        ");"
    )


def _bigquery_type(kind: Scalar | Struct | ListOf) -> str:
    if isinstance(kind, ListOf):
        return f"ARRAY<{_bigquery_type(kind.item)}>"
    if isinstance(kind, Struct):
        return f"STRUCT<{', '.join(f'`{f.name}` {_bigquery_type(f.type)}' for f in kind.fields)}>"
    return {STRING: "STRING", JSON: "JSON", INT64: "INT64", BOOL: "BOOL", TIMESTAMP: "TIMESTAMP"}[kind]


def bigquery_ddl(log_type: str, output_format: str) -> str:
    """A BigQuery external table over ``gs://BUCKET/PREFIX/{log_type}/``, partitioned by ``dt``.

    Parquet describes itself (BigQuery reads the columns from the files); JSON Lines gets the schema's.
    """
    prefix = f"gs://BUCKET/PREFIX/{log_type}"
    options = [
        f"uris = ['{prefix}/{GLOBS[output_format]}']",
        f"hive_partition_uri_prefix = '{prefix}'",
        "require_hive_partition_filter = FALSE",
    ]
    if output_format == "parquet":
        head = f"CREATE EXTERNAL TABLE `PROJECT.DATASET.srconnect_{log_type}`"
        options = ["format = 'PARQUET'", *options, "enable_list_inference = TRUE"]
    else:
        columns = ",\n".join(f"  `{f.name}` {_bigquery_type(f.type)}" for f in RECORDS[log_type].fields)
        head = f"CREATE EXTERNAL TABLE `PROJECT.DATASET.srconnect_{log_type}_json` (\n{columns}\n)"
        options = [
            "format = 'NEWLINE_DELIMITED_JSON'",
            "compression = 'GZIP'",
            *options,
            "ignore_unknown_values = TRUE",
        ]
    body = ",\n  ".join(options)
    return f"{head}\nWITH PARTITION COLUMNS ({PARTITION} DATE)\nOPTIONS (\n  {body}\n);"


# --- docs/schema.md -------------------------------------------------------------------------------

#: The reference-style link target of "assumed" (defined once, at the end of the page).
_ASSUMED_LINK = "[contract]: ../README.md#assumed-api-contract"
_TYPE_NAMES: Final = {
    STRING: "string",
    INT64: "int64",
    BOOL: "bool",
    TIMESTAMP: "timestamp (ms, UTC)",
    JSON: "JSON text",
}


def _type_name(kind: Scalar | Struct | ListOf) -> str:
    if isinstance(kind, ListOf):
        return f"list of {kind.item.title}"
    if isinstance(kind, Struct):
        return "struct"
    return _TYPE_NAMES[kind]


def _source(field: Field) -> str:
    if field.source == CONFIRMED:
        return "documented"
    if field.source == ADDED:
        return "added by the export"
    return f"assumed: [`{field.source}`][contract]"


def _rows(struct: Struct, path: str = "") -> list[str]:
    rows: list[str] = []
    for field in struct.fields:
        name = f"{path}{field.name}"
        null = field.null or "—"
        rows.append(f"| `{name}` | {_type_name(field.type)} | {field.doc} | {null} | {_source(field)} |")
        if isinstance(field.type, Struct):
            rows += _rows(field.type, f"{name}.")
    if struct.extra:
        rows.append(
            f"| `{path}{EXTRA}` | JSON text | Parquet only: what the columns above do not hold | "
            "nothing left over | added by the export |"
        )
    return rows


def _table(struct: Struct) -> str:
    header = ["| field | type | meaning | null when | name and shape |", "|---|---|---|---|---|"]
    return "\n".join(header + _rows(struct))


def _sql_block(sql: str) -> str:
    return f"```sql\n{sql.strip()}\n```"


def schema_markdown(queries: Path | None = None) -> str:
    """The text of ``docs/schema.md``; with ``queries`` (the ``docs/queries`` folder), the example queries too."""
    from airflow_provider_srconnect.schema import AUDIT, CONSOLE_LINE, HTTP_ENTRY, INVOCATION, LOGS_TEXT, VALUES_TEXT

    parts = [
        f"# Archive schema (version {SCHEMA_VERSION})",
        "<!-- Made by `python -m airflow_provider_srconnect.schema > docs/schema.md` from "
        "airflow_provider_srconnect/schema.py; a test keeps the two equal. -->",
        _INTRO,
        "## Invocation records (`invocations`)",
        _table(INVOCATION),
        "### Console line (items of `_consoleLogLines`)",
        _table(CONSOLE_LINE),
        "### HTTP log entry (items of `_httpLogEntries`)",
        _table(HTTP_ENTRY),
        "## Audit records (`audit`)",
        _table(AUDIT),
        _EXTRA_AND_TYPES,
        LOGS_TEXT,
        VALUES_TEXT,
        "## DuckDB",
        _DUCKDB_INTRO,
        "Parquet:",
        _sql_block(
            duckdb_view("invocations", "parquet", "s3://BUCKET/PREFIX")
            + "\n"
            + duckdb_view("audit", "parquet", "s3://BUCKET/PREFIX")
        ),
        "gzip JSON Lines (the same columns, without `extra`):",
        _sql_block(
            duckdb_view("invocations", "jsonl.gz", "s3://BUCKET/PREFIX")
            + "\n"
            + duckdb_view("audit", "jsonl.gz", "s3://BUCKET/PREFIX")
        ),
    ]
    if queries is not None:
        parts += ["### Example queries", _QUERIES_INTRO]
        for path in sorted(queries.glob("*.sql")):
            parts += [f"`docs/queries/{path.name}`:", _sql_block(path.read_text())]
    parts += [
        "## Athena",
        _ATHENA_INTRO,
        "Parquet:",
        _sql_block(athena_ddl("invocations", "parquet") + "\n\n" + athena_ddl("audit", "parquet")),
        f"gzip JSON Lines (times as ISO-8601 text: `from_iso8601_timestamp({contract.InvocationField.START_TIME})`):",
        _sql_block(athena_ddl("invocations", "jsonl.gz") + "\n\n" + athena_ddl("audit", "jsonl.gz")),
        "## BigQuery",
        _BIGQUERY_INTRO,
        "Parquet (the files carry the schema):",
        _sql_block(bigquery_ddl("invocations", "parquet") + "\n\n" + bigquery_ddl("audit", "parquet")),
        "gzip JSON Lines:",
        _sql_block(bigquery_ddl("invocations", "jsonl.gz") + "\n\n" + bigquery_ddl("audit", "jsonl.gz")),
        _VERSIONS,
        _ASSUMED_LINK,
    ]
    return "\n\n".join(part.strip() for part in parts) + "\n"


_INTRO = """
An archive holds, per log type, one data object per window,
`{prefix}/{log_type}/dt=YYYY-MM-DD/{start}_{end}.jsonl.gz` or `….parquet` (`output_format`), and its
`….manifest.json` at the same path under `{prefix}/_manifests/`, so the table folders hold data objects
only. (A Parquet window of more than 32 row groups goes on in `{start}_{end}-0001.parquet` and on.)
The `dt=` folders are Hive-style partitions (the window's start day, UTC), so each
`{prefix}/{log_type}/` folder is a table partitioned by `dt`, read in place by DuckDB, Athena, BigQuery
or Spark. Every manifest records `format` and `schemaVersion`.

- **gzip JSON Lines** (`jsonl.gz`, the default): one line per record, the record exactly as SRC served it
  (keys sorted), plus the keys the export adds (`_consoleLogLines`, `_httpLogEntries`, `_logsNotStored`,
  and `_fullMessage` on a line). Nothing is typed or dropped; the tables below say what each key holds.
- **Parquet** (`parquet`, extra `parquet`: pyarrow): the same records as typed columns, nested logs as
  lists of structs in the invocation's row (one row per invocation, so a query over invocations never
  joins, and `UNNEST` reaches the lines), plus an `extra` column per record level (record, console line,
  HTTP entry, related entity) that keeps whatever the typed columns do not hold. zstd-compressed, written
  in row groups while streaming (at most 8,192 records or about 32 MB of text each, and one ends at each
  sub-window's end), at most 32 row groups per file.

"Name and shape" says where each field's JSON name and type come from: documented by SRC, assumed (the
linked group of the README's assumed-contract table; the sandbox serves these shapes), or added by the export.
The names are the default contract's. Under a connection's contract override the Parquet columns keep them:
fields SRC sends under other names, and values a column cannot hold, go to `extra` as sent.
"""

_EXTRA_AND_TYPES = """
## Unknown fields, unexpected values and nulls (Parquet)

Nothing SRC sends is dropped. At each record level, the `extra` column is the JSON text (keys sorted) of:

- every field the schema does not declare, with its value as sent, including unknown keys inside a
  declared object, at their path (`{"workspace": {"color": "red"}}`);
- every declared field whose value its column cannot hold (text where a number was declared, an object
  where text was, a time that is not ISO-8601 or epoch ms, one finer than milliseconds or one outside the
  years 1-9999): its column is then null and `extra` has the value as sent.

`extra` is null when nothing is left over. Merging `extra` over the typed columns gives the record back.
Every Parquet column is nullable: a field SRC sent as null and one it left out both read as null.
JSON-typed fields (`headers`, `metadata`) are JSON text, read with `json_extract` (DuckDB),
`json_extract_scalar` (Athena) or `JSON_VALUE` (BigQuery).

Times are `timestamp (ms, UTC)` in Parquet and ISO-8601 text in JSON Lines. A Parquet file's bytes depend
only on its records, the `step` and the pyarrow version (the manifest records it as `parquet.writer`): a
rerun over unchanged data writes the same bytes. Parquet files do not concatenate the way gzip members do,
so a Parquet export is not staged for resume: a retry reads the whole window again.
"""

_DUCKDB_INTRO = """
One view per log type over the whole archive, made by `airflow_provider_srconnect.sql.duckdb_view`
(`PREFIX` is the archive's `prefix`; a local folder works too; for `s3://` and `gs://`, load DuckDB's
`httpfs` extension and give it credentials). The globs match the data objects only, never the manifests.
"""

_QUERIES_INTRO = """
The queries in `docs/queries/` run against these views, unchanged in both formats; the end-to-end tests
(`tests/e2e/test_duckdb_queries.py`) run them over archives that the example DAGs wrote, in both formats,
and compare the answers with the sandbox's ground truth.
"""

_ATHENA_INTRO = """
Replace `BUCKET` and `PREFIX`. Partition projection finds the `dt` partitions without `MSCK REPAIR
TABLE`; filter on `dt` (a `yyyy-MM-dd` string) to read only the days you need. Athena lowercases column
names; names starting with `_` must be quoted in queries (`"_consoleloglines"`).

Athena reads every object under a table's location; the table folder holds only data objects (manifests
and staging objects live under `{prefix}/_manifests/` and `{prefix}/_staging/`), so keep one format per
prefix.
"""

_BIGQUERY_INTRO = """
Replace `PROJECT`, `DATASET`, `BUCKET` and `PREFIX`. The `uris` glob matches the data objects of one format
only; `dt` becomes a DATE partition column.
"""

_VERSIONS = """
## Schema versions

`schemaVersion` in each manifest names the version of this page the data object follows. A new version
adds columns (read old and new files together with `union_by_name`); a renamed or retyped field would
need a new version and a note here.

| version | change |
|---|---|
| 1 | first version: invocation, console line, HTTP log entry and audit records |
"""
