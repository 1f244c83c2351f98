"""Records → Parquet, streamed: typed columns from ``schema``, written one row group at a time.

pyarrow is an optional extra (``parquet``) and is imported only when a Parquet file is written.

Records are converted ``BATCH_ROWS`` at a time into Arrow tables, and the tables become one row group
once they hold ``ROW_GROUP_ROWS`` records or about ``ROW_GROUP_TEXT`` characters of text (records with
attached logs are large), or when the caller ends a sub-window. So the writer holds one row group, plus
the file's footer: pyarrow keeps the description of every row group written (tens of KB each) until
the file is closed, and copies it to write it (``python -m bench.writer`` measures the writer alone).
The export therefore starts a new file after ``FILE_ROW_GROUPS`` row groups, which bounds the footer
whatever the window's size.

Rows reach Arrow as JSON lines read by ``pyarrow.json`` against the explicit schema, not through
``pa.array``/``from_pylist``: those import pandas whenever it is installed (to ask whether a list is
"array-like"), which costs a task ~45 MB of memory and half a second. The price is speed: this path
writes ~85k records/s on one core against ~125k, still far above what the API serves. So the rows
hold JSON-ready values: timestamps as ISO text with milliseconds and a ``Z``.

The conversion is lossless: a value that its column cannot hold (another type, a timestamp finer than
milliseconds or outside the years 1-9999, an object where text was declared) leaves the column null
and goes, as sent, into the ``extra`` column of its record level, together with every field the
schema does not declare. Reading ``extra`` back and merging it over the typed columns gives the record
as SRC served it (keys that SRC sent as null and keys it left out both read as null).

Parquet text is UTF-8, which has no form for a lone surrogate (half of a UTF-16 pair, ``"\\ud800"`` in
JSON; ``json.loads`` keeps one as a character). A field of a record level that holds one (in its value,
at any depth, or in its name) keeps its typed column, with U+FFFD in place of each lone surrogate, and
is kept exactly in the level's ``extra`` under the key ``schema.SURROGATES_KEY``: a JSON text (lone
surrogates written as ``\\udXXX`` escapes) of an object holding every such field as sent, and nowhere
else in ``extra``. So every text in the file is UTF-8 and every ``extra`` is strict JSON (DuckDB's JSON
functions refuse a lone-surrogate escape, and here it is only ever inside a string). Reading back:
merge ``extra`` without that key over the typed columns, then set the fields of
``json.loads(extra[SURROGATES_KEY])`` over the result. (A field SRC sends under that very name is kept
the same way.)

The bytes depend only on the records, the sub-window boundaries and the pyarrow version (the file
records ``created_by: parquet-cpp-arrow version X``): no time or random id is written.
"""

from __future__ import annotations

import datetime as dt
import importlib.util
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, Final, Protocol

import msgspec

from airflow_provider_srconnect import contract
from airflow_provider_srconnect._json import ENCODER as _ENCODER
from airflow_provider_srconnect._json import (
    LONE_SURROGATE,
    escape_lone_surrogates,
    has_lone_surrogate,
    replace_lone_surrogates,
)
from airflow_provider_srconnect.exceptions import SRConnectParamError
from airflow_provider_srconnect.schema import (
    BOOL,
    EXTRA,
    INT64,
    JSON,
    RECORDS,
    STRING,
    SURROGATES_KEY,
    TIMESTAMP,
    ListOf,
    Scalar,
    Struct,
)

if TYPE_CHECKING:
    import pyarrow as pa
    import pyarrow.parquet as pq

#: Records converted to one Arrow record batch at a time.
BATCH_ROWS: Final = 1024
#: A row group holds at most this many records ...
ROW_GROUP_ROWS: Final = 8_192
#: ... and closes once its text (strings and JSON) reaches about this many characters.
ROW_GROUP_TEXT: Final = 32 << 20
#: A file holds at most this many row groups (so at most 262,144 records); the export goes on in a new one.
FILE_ROW_GROUPS: Final = 32
COMPRESSION: Final = "zstd"
_EPOCH = dt.datetime(1970, 1, 1)
_INT64 = range(-(2**63), 2**63)


def _missing(detail: str) -> SRConnectParamError:
    return SRConnectParamError(
        "output_format",
        f"'parquet' needs pyarrow, which {detail}",
        "Install the provider's parquet extra: pip install 'airflow-provider-srconnect[parquet]' "
        "(pyarrow >= 14), or use output_format='jsonl.gz'.",
    )


def require_pyarrow() -> None:
    """Raise the typed error that names the ``parquet`` extra when pyarrow is not installed.

    Only looks for the package (a DAG file is parsed often, and importing pyarrow takes a third of a
    second); the writer imports it, and says the same if that fails.
    """
    try:
        found = importlib.util.find_spec("pyarrow") is not None
    except (ImportError, ValueError, AttributeError):  # e.g. sys.modules["pyarrow"] is None
        found = False
    if not found:
        raise _missing("is not installed here")


def writer_version() -> str:
    """The Parquet writer, as files written here name it (the manifest records it)."""
    import pyarrow

    return f"pyarrow {pyarrow.__version__}"


# --- Arrow types ----------------------------------------------------------------------------------


def arrow_schema(log_type: str) -> pa.Schema:
    """The Parquet columns of ``log_type``'s records (every column nullable: see the module docstring)."""
    import pyarrow as pa

    def scalar(kind: Scalar) -> pa.DataType:
        if kind == TIMESTAMP:
            return pa.timestamp("ms", tz="UTC")
        return {STRING: pa.string(), JSON: pa.string(), INT64: pa.int64(), BOOL: pa.bool_()}[kind]

    def struct(value: Struct) -> list[pa.Field]:
        fields = [pa.field(f.name, convert(f.type)) for f in value.fields]
        return [*fields, pa.field(EXTRA, pa.string())] if value.extra else fields

    def convert(kind: Scalar | Struct | ListOf) -> pa.DataType:
        if isinstance(kind, ListOf):
            return pa.list_(pa.struct(struct(kind.item)))
        if isinstance(kind, Struct):
            return pa.struct(struct(kind))
        return scalar(kind)

    return pa.schema(struct(RECORDS[log_type]))


# --- Records → rows -------------------------------------------------------------------------------


class _Misfit(Exception):
    """A value its column cannot hold."""


class _Replaced(Exception):
    """A text that holds a lone surrogate: ``value`` is what its column holds, U+FFFD in place of each."""

    def __init__(self, value: str) -> None:
        super().__init__()
        self.value = value


class Sizer:
    """Counts the characters of text that conversions put into columns."""

    def __init__(self) -> None:
        self.text = 0


Convert = Callable[[Any], Any]


def _scalar(kind: Scalar, sizer: Sizer) -> Convert:
    lone = LONE_SURROGATE.search
    if kind == STRING:

        def string(value: Any) -> Any:
            if not isinstance(value, str):
                raise _Misfit
            sizer.text += len(value)
            if not value.isascii() and lone(value):  # inline: the hot path of every text column
                raise _Replaced(replace_lone_surrogates(value))
            return value

        return string
    if kind == JSON:

        def json_text(value: Any) -> Any:
            text = _ENCODER.encode(value)
            sizer.text += len(text)
            if not text.isascii() and lone(text):
                raise _Replaced(replace_lone_surrogates(text))
            return text

        return json_text
    if kind == INT64:

        def int64(value: Any) -> Any:
            if isinstance(value, bool) or not isinstance(value, int) or value not in _INT64:
                raise _Misfit
            return value

        return int64
    if kind == BOOL:

        def boolean(value: Any) -> Any:
            if not isinstance(value, bool):
                raise _Misfit
            return value

        return boolean
    return _timestamp


def _timestamp(value: Any) -> str:
    """A wire time as the column's text (UTC, milliseconds), if exactly that; ``contract.parse_time`` reads text.

    Integers are epoch milliseconds.
    """
    if isinstance(value, int) and not isinstance(value, bool):
        try:
            moment = _EPOCH + dt.timedelta(milliseconds=value)
        except OverflowError as error:
            raise _Misfit from error
    elif isinstance(value, str):
        try:
            moment = contract.parse_time(value).astimezone(dt.UTC).replace(tzinfo=None)
        except (ValueError, OverflowError) as error:
            raise _Misfit from error
        if moment.microsecond % 1000:
            raise _Misfit  # finer than the column: kept whole in extra
    else:
        raise _Misfit
    return moment.isoformat(timespec="milliseconds") + "Z"


StructConvert = Callable[[dict[str, Any]], tuple[dict[str, Any], dict[str, Any], Sequence[str]]]
#: No field replaced (shared: most objects have none, and a list per object costs).
_NONE: Final[tuple[str, ...]] = ()


def _struct(value: Struct, sizer: Sizer) -> StructConvert:
    """A converter of one object to (row, residue, replaced): its columns, what they do not hold, and the
    fields whose columns hold U+FFFD in place of a lone surrogate."""
    fields: list[tuple[str, Convert, bool]] = []  # (name, convert, returns (row, residue))
    for field in value.fields:
        if isinstance(field.type, ListOf):
            fields.append((field.name, _list(field.type, sizer), False))
        elif isinstance(field.type, Struct):
            fields.append((field.name, _struct(field.type, sizer), True))
        else:
            fields.append((field.name, _scalar(field.type, sizer), False))
    declared = frozenset(name for name, _, _ in fields)

    def convert(record: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any], Sequence[str]]:
        row: dict[str, Any] = {}
        residue: dict[str, Any] = {}
        replaced: Sequence[str] = _NONE
        for name, one, nested in fields:
            item = record.get(name)
            if item is None:
                row[name] = None
            elif nested:
                if not isinstance(item, dict):
                    row[name] = None
                    residue[name] = item
                    continue
                row[name], inner, inner_replaced = one(item)
                if inner:
                    residue[name] = inner
                if inner_replaced:
                    replaced = [*replaced, name]
            else:
                try:
                    row[name] = one(item)
                except _Misfit:
                    row[name] = None
                    residue[name] = item
                except _Replaced as text:
                    row[name] = text.value
                    replaced = [*replaced, name]
        if not declared.issuperset(record):
            residue.update((key, item) for key, item in record.items() if key not in declared)
        return row, residue, replaced

    return convert


def _list(value: ListOf, sizer: Sizer) -> Convert:
    item = _level(value.item, sizer)

    def convert(items: Any) -> Any:
        if not isinstance(items, list) or not all(isinstance(one, dict) for one in items):
            raise _Misfit
        return [item(one) for one in items]

    return convert


def _level(value: Struct, sizer: Sizer) -> Callable[[dict[str, Any]], dict[str, Any]]:
    """A converter of a record-level object to its row, ``extra`` included (lone surrogates: the module docstring)."""
    convert = _struct(value, sizer)

    def level(record: dict[str, Any]) -> dict[str, Any]:
        row, residue, replaced = convert(record)
        text = _ENCODER.encode(residue) if residue else None
        if text is not None and (has_lone_surrogate(text) or SURROGATES_KEY in residue):
            replaced = [*replaced, *(key for key, item in residue.items() if _exact_only(key, item))]
        if replaced:
            kept = {key: item for key, item in residue.items() if key not in replaced}
            exact = _ENCODER.encode({name: record[name] for name in replaced})
            kept[SURROGATES_KEY] = escape_lone_surrogates(exact)
            text = _ENCODER.encode(kept)
        if text is not None:
            sizer.text += len(text)
        row[EXTRA] = text
        return row

    return level


def _exact_only(key: str, item: Any) -> bool:
    """Whether a field left over for ``extra`` is kept exactly only under ``SURROGATES_KEY``: it holds a lone
    surrogate, or it is named so (a field SRC sent under that name is kept there, whole)."""
    return key == SURROGATES_KEY or has_lone_surrogate(_ENCODER.encode({key: item}))


def row_converter(log_type: str) -> tuple[Callable[[dict[str, Any]], dict[str, Any]], Sizer]:
    """A converter of ``log_type``'s records to Parquet rows, and the counter of the text it produced."""
    sizer = Sizer()
    return _level(RECORDS[log_type], sizer), sizer


# --- The writer -----------------------------------------------------------------------------------


class Sink(Protocol):
    """Where a file goes: anything with ``write(bytes)`` (pyarrow counts the position itself)."""

    def write(self, data: bytes, /) -> Any: ...


class ParquetRecordWriter:
    """Writes records into ``out`` as one Parquet file, a row group at a time (see the module docstring).

    ``end_row_group()`` closes the current row group (at a sub-window's end); ``close()`` writes the footer.
    """

    def __init__(
        self,
        out: Sink,
        log_type: str,
        *,
        row_group_rows: int = ROW_GROUP_ROWS,
        row_group_text: int = ROW_GROUP_TEXT,
    ) -> None:
        try:
            import pyarrow.json as pj
            import pyarrow.parquet as pq
        except ImportError as error:
            raise _missing(f"cannot be imported ({error})") from error

        self.schema = arrow_schema(log_type)
        self._convert, self._sizer = row_converter(log_type)
        self._row_group_rows = row_group_rows
        self._row_group_text = row_group_text
        self._rows: list[dict[str, Any]] = []
        self._tables: list[pa.Table] = []
        self._pending = 0
        self.row_groups = 0
        self._lines = msgspec.json.Encoder()
        self._parse = pj.ParseOptions(explicit_schema=self.schema, unexpected_field_behavior="error")
        self._writer: pq.ParquetWriter = pq.ParquetWriter(
            out,
            self.schema,
            compression=COMPRESSION,
            use_dictionary=True,
            write_statistics=True,
            use_compliant_nested_type=True,
            coerce_timestamps="ms",
            allow_truncated_timestamps=False,
        )

    def write(self, record: dict[str, Any]) -> None:
        self._rows.append(self._convert(record))
        self._pending += 1
        if len(self._rows) >= BATCH_ROWS:
            self._to_table()
        if self._pending >= self._row_group_rows or self._sizer.text >= self._row_group_text:
            self.end_row_group()

    def _to_table(self) -> None:
        import pyarrow as pa
        import pyarrow.json as pj

        if self._rows:
            lines = self._lines.encode_lines(self._rows)
            # One block for the whole batch: a JSON line may not span two blocks.
            options = pj.ReadOptions(use_threads=False, block_size=len(lines) + 1)
            table = pj.read_json(pa.BufferReader(lines), read_options=options, parse_options=self._parse)
            self._tables.append(table)
            self._rows = []

    def end_row_group(self) -> None:
        """Write what is buffered as one row group (nothing if nothing is)."""
        import pyarrow as pa

        self._to_table()
        if self._pending:
            table = pa.concat_tables(self._tables)
            self._writer.write_table(table, row_group_size=table.num_rows)
            self.row_groups += 1
            del table
        self._tables = []
        self._pending = 0
        self._sizer.text = 0
        # Arrow's default allocator (mimalloc) keeps freed pages for its own reuse, where Python and
        # boto3 (on the C allocator) cannot use them: give them back, or the upload that follows the
        # file lands on top of the writer's peak.
        pa.default_memory_pool().release_unused()

    def close(self) -> None:
        self.end_row_group()
        self._writer.close()

    def abandon(self) -> None:
        """Stop without the rows still buffered; the caller discards the half-written file."""
        self._writer.close()

    def __enter__(self) -> ParquetRecordWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        if exc[0] is None:
            self.close()
        else:
            self.abandon()
