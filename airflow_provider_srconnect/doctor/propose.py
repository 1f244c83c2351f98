"""What the replies reveal about the contract, and the override that would make the connection match.

Every guess here is made from key names, value types and magnitudes, and is taken only when it is
unambiguous (one candidate); otherwise the contract's value stays. Request parameter names cannot be
read from replies at all: ``UNREVEALED`` lists them, with where to look them up.
"""

from __future__ import annotations

import dataclasses
import ipaddress
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from airflow_provider_srconnect import contract
from airflow_provider_srconnect.doctor import shapes
from airflow_provider_srconnect.exceptions import SRConnectParamError

if TYPE_CHECKING:
    from airflow_provider_srconnect.contract import Contract, TimeFormat

#: What no reply can reveal: the request side of the contract.
UNREVEALED: tuple[str, ...] = (
    "paths.* (the five endpoint paths)",
    "window.from_param, window.to_param, window.time_format, window.to_inclusive",
    "pagination.style, pagination.param, pagination.first_page, pagination.size_param, pagination.size_max",
    "filters.* (filter and sort parameter names, multi_value, sort spellings)",
    "logs.no_logs, logs.not_stored_status (seen only for an invocation without logs or still running)",
)
HINT = (
    "Look them up in SRC's API docs, or in the browser's network tab (developer tools) while the Reporting "
    "pages load invocation and audit logs: the request URLs show the paths and parameter names."
)
_LEVELS = frozenset({"TRACE", "DEBUG", "INFO", "LOG", "NOTICE", "WARN", "WARNING", "ERROR", "SUCCESS", "FATAL"})
_ID_WORDS = frozenset({"id", "uid", "uuid"})
_NEXT_WORDS = frozenset({"next", "cursor", "continuation", "token"})
_STOP_WORDS = frozenset({"at", "by", "of", "the", "is", "on", "in", "to"})
_END_FIELDS = contract.Pagination.END_FIELDS
_ACTION = re.compile(r"^[A-Za-z_]+(\.[A-Za-z_]+)+$")

Records = Sequence[Mapping[str, Any]]


@dataclass
class Observed:
    """The replies of one doctor run, kept in memory only (never printed; evidence is their shape)."""

    invocation_bodies: list[Any] = field(default_factory=list)
    invocation_records: list[dict[str, Any]] = field(default_factory=list)
    audit_bodies: list[Any] = field(default_factory=list)
    audit_records: list[dict[str, Any]] = field(default_factory=list)
    #: The console-log endpoint's reply: (is JSON, body or text), and the log files read.
    console_reply: tuple[bool, Any] | None = None
    console_file: Any = None
    http_file: Any = None
    #: The large message read: (is JSON, body or text).
    large_message: tuple[bool, Any] | None = None
    #: JSON bodies of 4xx replies (the error-body shape).
    error_bodies: list[Any] = field(default_factory=list)


# --- Inference --------------------------------------------------------------------------------------


def normalise(value: object) -> str:
    """A spelling without case and separators: ``TimedOut``, ``timed_out`` -> ``timedout``."""
    return re.sub(r"[^a-z0-9]", "", str(value).lower())


def find_records(body: object) -> tuple[str | None, list[Any]] | None:
    """Where a reply holds its list: (None, list) for a bare list, else (dotted key, list) of the first
    list of objects (or the only list, when every list is empty); None when there is no such list."""
    if isinstance(body, list):
        return None, body
    found = list(shapes.lists(body))
    of_objects = [(k, v) for k, v in found if v and all(isinstance(e, dict) for e in v)]
    if of_objects:
        return of_objects[0]
    if len(found) == 1:
        return found[0]
    return None


def time_format(values: Sequence[object]) -> TimeFormat | None:
    """The one time format all non-null values are written in, or None."""
    formats = {shapes.time_format_of(v) for v in values if v is not None}
    if len(formats) == 1:
        return formats.pop()
    return None


Rule = Callable[[str, list[Any], int], bool]


def _id_rule(key: str, values: list[Any], total: int) -> bool:
    words = shapes.words(key)
    scalars = [v for v in values if isinstance(v, (str, int)) and not isinstance(v, bool)]
    return bool(words) and words[-1] in _ID_WORDS and len(scalars) == total and len(set(scalars)) == total


def _time_rule(key: str, values: list[Any], total: int) -> bool:
    present = [v for v in values if v is not None]
    return bool(present) and time_format(present) is not None


def _spelled_rule(names: Sequence[str], root: bool | None = None) -> Rule:
    wanted = {normalise(n) for n in names}

    def rule(key: str, values: list[Any], total: int) -> bool:
        if root is not None and ("root" in shapes.words(key)) != root:
            return False
        texts = [v for v in values if v is not None]
        if not texts or not all(isinstance(v, str) for v in texts):
            return False
        return sum(normalise(v) in wanted for v in texts) * 2 > len(texts)

    return rule


def _email_object_rule(key: str, values: list[Any], total: int) -> bool:
    present = [v for v in values if v is not None]
    return bool(present) and all(
        isinstance(v, dict) and any(isinstance(x, str) and "@" in x for _, x in shapes.leaves(v)) for v in present
    )


def _action_rule(key: str, values: list[Any], total: int) -> bool:
    present = [v for v in values if v is not None]
    return bool(present) and all(isinstance(v, str) and _ACTION.match(v) for v in present)


def _ip_rule(key: str, values: list[Any], total: int) -> bool:
    present = [v for v in values if v is not None]
    if not present or not all(isinstance(v, str) for v in present):
        return False
    try:
        for value in present:
            ipaddress.ip_address(value)
    except ValueError:
        return False
    return True


def _list_rule(key: str, values: list[Any], total: int) -> bool:
    present = [v for v in values if v is not None]
    return bool(present) and all(isinstance(v, list) for v in present)


def _level_rule(key: str, values: list[Any], total: int) -> bool:
    present = [v for v in values if v is not None]
    return bool(present) and all(isinstance(v, str) and v.upper() in _LEVELS for v in present)


def _sometimes_text_rule(key: str, values: list[Any], total: int) -> bool:
    present = [v for v in values if v is not None]
    return bool(present) and len(present) < total and all(isinstance(v, str) for v in present)


def _matches(hint: str, word: str) -> bool:
    if hint == word:
        return True
    short, long = sorted((hint, word), key=len)
    return len(short) >= 3 and long.startswith(short)


def _score(hints: set[str], key: str) -> int:
    words = [w for w in shapes.words(key) if w not in _STOP_WORDS]
    return sum(any(_matches(h, w) for w in words) for h in hints)


def match_fields(
    records: Records,
    current: Mapping[str, str],
    rules: Sequence[tuple[str, Rule]] = (),
    *,
    longest_text: str | None = None,
    optional: Sequence[str] = (),
) -> dict[str, str]:
    """Map the contract's fields (name -> current wire name) to the keys the records use.

    A field keeps its wire name when the records have that key. Otherwise, in this order: a value
    ``rule`` with exactly one candidate key; a key whose words match the field's (the best match,
    when unique both ways); ``longest_text`` = the text key with the clearly longest values; and the
    last field left (``optional`` ones aside) with the last key left. Fields found no other way are left out.
    """
    total = len(records)
    keys: dict[str, list[Any]] = {}
    for record in records:
        for key, value in record.items():
            if isinstance(key, str) and shapes.safe_key(key) == key:
                keys.setdefault(key, []).append(value)
    mapping = {name: wire for name, wire in current.items() if wire in keys}
    free = [k for k in keys if k not in mapping.values()]
    for name, rule in rules:
        if name in mapping:
            continue
        candidates = [k for k in free if rule(k, keys[k], total)]
        if len(candidates) == 1:
            mapping[name] = candidates[0]
            free.remove(candidates[0])
    hints = {name: set(shapes.words(name)) | set(shapes.words(wire)) for name, wire in current.items()}
    while True:
        pairs = [
            (_score(hints[name] - _STOP_WORDS, key), name, key)
            for name in current
            if name not in mapping
            for key in free
        ]
        best = max((s for s, _, _ in pairs), default=0)
        if best == 0:
            break
        top = [(name, key) for s, name, key in pairs if s == best]
        unique = [(n, k) for n, k in top if [t[0] for t in top].count(n) == 1 and [t[1] for t in top].count(k) == 1]
        if not unique:
            break
        for name, key in unique:
            mapping[name] = key
            free.remove(key)
    if longest_text is not None and longest_text not in mapping:
        means = {
            k: sum(len(v) for v in keys[k]) / len(keys[k]) for k in free if all(isinstance(v, str) for v in keys[k])
        }
        ranked = sorted(means.items(), key=lambda kv: -kv[1])
        if ranked and (len(ranked) == 1 or ranked[0][1] >= 1.5 * ranked[1][1]):
            mapping[longest_text] = ranked[0][0]
            free.remove(ranked[0][0])
    missing = [name for name in current if name not in mapping and name not in optional]
    if len(missing) == 1 and len(free) == 1:
        mapping[missing[0]] = free[0]
    return mapping


def _current(group: object) -> dict[str, str]:
    return {f.name: getattr(group, f.name) for f in dataclasses.fields(group)}  # type: ignore[arg-type]


def invocation_fields(records: Records, base: Contract) -> dict[str, str]:
    """The invocation record's fields as the records spell them (see ``match_fields``)."""
    rules: list[tuple[str, Rule]] = [
        ("id", _id_rule),
        ("start_time", _time_rule),
        ("execution_status", _spelled_rule(contract.EXECUTION_STATUSES)),
        ("trigger_type", _spelled_rule(contract.TRIGGER_TYPES, root=False)),
        ("root_trigger_type", _spelled_rule(contract.TRIGGER_TYPES, root=True)),
    ]
    return match_fields(records, _current(base.records.invocation), rules)


def audit_fields(records: Records, base: Contract) -> dict[str, str]:
    """The audit record's fields as the records spell them (see ``match_fields``)."""
    rules: list[tuple[str, Rule]] = [
        ("id", _id_rule),
        ("date", _time_rule),
        ("actor", _email_object_rule),
        ("action", _action_rule),
        ("ip_address", _ip_rule),
        ("related_entities", _list_rule),
    ]
    return match_fields(records, _current(base.records.audit), rules)


def console_fields(lines: Records, base: Contract) -> dict[str, str]:
    """A console line's fields as the log file spells them (see ``match_fields``)."""
    rules: list[tuple[str, Rule]] = [
        ("timestamp", _time_rule),
        ("level", _level_rule),
        ("large_message_id", _sometimes_text_rule),
    ]
    current = _current(base.log_files.console)
    return match_fields(lines, current, rules, longest_text="message", optional=("large_message_id",))


def spellings(values: Sequence[object], names: Sequence[str], known: Mapping[str, str]) -> dict[str, str]:
    """Provider name -> wire spelling for seen values outside ``known`` that match one name (case and
    separators aside); values that match none are left out."""
    spelled = set(known.values())
    found: dict[str, str] = {}
    for value in values:
        if not isinstance(value, str) or value in spelled:
            continue
        match = [n for n in names if normalise(n) == normalise(value)]
        if len(match) == 1:
            found.setdefault(match[0], value)
    return found


def _pascal(name: str) -> str:
    return "".join(word.capitalize() for word in name.split("_"))


#: Ways an API may spell the provider's UPPER_SNAKE names.
_STYLES: tuple[Callable[[str], str], ...] = (
    str.lower,
    _pascal,
    lambda name: _pascal(name)[:1].lower() + _pascal(name)[1:],
    lambda name: name.lower().replace("_", "-"),
    lambda name: " ".join(word.capitalize() for word in name.split("_")),
)


def styled(found: Mapping[str, str], names: Sequence[str]) -> dict[str, str] | None:
    """Every name's spelling, when at least two spellings ``found`` share one style (lower case,
    PascalCase, camelCase, kebab-case, Title Case) and none departs from it; else None."""
    if len(found) < 2:
        return None
    for style in _STYLES:
        if all(style(name) == wire for name, wire in found.items()):
            return {name: style(name) for name in names}
    return None


def end_fields(body: object) -> dict[str, str]:
    """Fields of a listing reply that may end a walk: role (next, has_more, total_pages, total_count) -> key."""
    found: dict[str, str] = {}
    for dotted, value in shapes.leaves(body):
        words = set(shapes.words(dotted.rsplit(".", 1)[-1]))
        if isinstance(value, bool):
            if "more" in words or words >= {"has", "next"}:
                found.setdefault("has_more", dotted)
        elif words & _NEXT_WORDS and shapes.kind(value) != "str(url)":
            found.setdefault("next", dotted)
        elif isinstance(value, int) and "total" in words:
            found.setdefault("total_pages" if any(w.startswith("page") for w in words) else "total_count", dotted)
    return found


def delivery(reply: tuple[bool, Any] | None) -> tuple[str | None, str | None]:
    """(mode, url field) a log endpoint's reply shows: ``url`` with the key of the first http(s) URL,
    ``inline`` when the reply holds the log lines itself, (None, None) when it does not tell."""
    if reply is None or not reply[0]:
        return None, None
    body = reply[1]
    for dotted, value in shapes.leaves(body):
        if isinstance(value, str) and value.startswith(("http://", "https://")):
            return "url", dotted
    found = find_records(body)
    if found is not None and found[1]:
        return "inline", None
    return None, None


def large_message_field(message: tuple[bool, Any] | None) -> tuple[bool, str | None]:
    """(known, dotted key) of a large message's text: (True, None) for raw text, the longest text of a
    JSON object otherwise."""
    if message is None:
        return False, None
    is_json, body = message
    if not is_json or not isinstance(body, dict):
        return (not is_json), None
    texts = [(len(v), k) for k, v in shapes.leaves(body) if isinstance(v, str)]
    if not texts:
        return False, None
    return True, max(texts)[1]


def error_fields(body: object) -> dict[str, str]:
    """(message_field, code_field) of an error body, where the key names say so unambiguously."""
    texts = [(k, v) for k, v in shapes.leaves(body) if isinstance(v, (str, int)) and not isinstance(v, bool)]
    found: dict[str, str] = {}
    for role, preferences in (
        ("message_field", (("message", "msg"), ("detail", "details", "description"), ("error",))),
        ("code_field", (("code",), ("type", "reason", "error"))),
    ):
        for wanted in preferences:
            hits = [
                k
                for k, v in texts
                if set(shapes.words(k.rsplit(".", 1)[-1])) & set(wanted)
                and k not in found.values()
                and (role == "code_field" or isinstance(v, str))
            ]
            if len(hits) == 1:
                found[role] = hits[0]
                break
    return found


# --- The proposal -----------------------------------------------------------------------------------


@dataclass
class Proposal:
    """The connection's contract with what the replies reveal laid over it."""

    contract: Contract
    #: Dotted keys changed relative to the connection's contract.
    changed: list[str]
    notes: list[str]

    def override(self) -> dict[str, Any]:
        """The connection extra ``contract`` to set (relative to the packaged default)."""
        return self.contract.changes_from(contract.DEFAULT)


def _dotted(changes: Mapping[str, Any], prefix: str = "") -> list[str]:
    """The dotted keys of an override (an enum map counts as one key)."""
    out = []
    for key, value in changes.items():
        if isinstance(value, dict) and value and prefix != "enums.":
            out += _dotted(value, f"{prefix}{key}.")
        else:
            out.append(f"{prefix}{key}")
    return out


def _diff(base: object, found: Mapping[str, Any]) -> dict[str, Any]:
    """The entries of ``found`` (field -> value) that differ from ``base``'s group (a dataclass)."""
    return {k: v for k, v in found.items() if getattr(base, k) != v}


def _listing_unit(seen: Observed, base: Contract, notes: list[str]) -> dict[str, Any]:
    body = next(iter(seen.invocation_bodies + seen.audit_bodies), None)
    if body is None:
        return {}
    found = find_records(body)
    if found is None:
        notes.append("listing.wrapper: no list of records found in the listing reply")
        return {}
    wrapper = found[0]
    pagination = base.pagination
    changes: dict[str, Any] = {}
    if wrapper != base.listing.wrapper:
        changes["listing"] = {"wrapper": wrapper}
    if wrapper is None:
        if pagination.style == "cursor":
            notes.append("pagination: a bare-list reply has no room for a cursor; set pagination.style and .param")
            return {}
        if pagination.last_page == "field":
            ends: dict[str, Any] = {k: None for k in _END_FIELDS}
            changes["pagination"] = {**ends, "last_page": "empty"}
            notes.append("pagination.last_page: 'empty' proposed (a bare list cannot say where it ends)")
        return changes
    ends = end_fields(body)
    if pagination.style == "cursor":
        if "next" in ends and ends["next"] != pagination.next_field:
            changes["pagination"] = {"next_field": ends["next"]}
        elif "next" not in ends and contract.lookup(body, pagination.next_field or "") is None:
            notes.append("pagination.next_field: no next-page token found in the first page")
        return changes
    roles = [("next", "next_field"), ("has_more", "has_more_field"), ("total_count", "total_count_field")]
    if pagination.style == "page":
        roles.append(("total_pages", "total_pages_field"))
    current = [getattr(pagination, k) for _, k in roles if getattr(pagination, k) is not None]
    if pagination.last_page == "field" and current and current[0] in dict(shapes.leaves(body)):
        return changes
    for role, key in roles:
        if role in ends:
            nulls: dict[str, Any] = {k: None for k in _END_FIELDS}
            changes["pagination"] = {**nulls, key: ends[role], "last_page": "field"}
            break
    return changes


def _records_unit(seen: Observed, base: Contract) -> dict[str, Any]:
    records: dict[str, Any] = {}
    times: list[object] = []
    if seen.invocation_records:
        mapping = invocation_fields(seen.invocation_records, base)
        if diff := _diff(base.records.invocation, mapping):
            records["invocation"] = diff
        times += [r.get(mapping["start_time"]) for r in seen.invocation_records if "start_time" in mapping]
    if seen.audit_records:
        mapping = audit_fields(seen.audit_records, base)
        if diff := _diff(base.records.audit, mapping):
            records["audit"] = diff
        times += [r.get(mapping["date"]) for r in seen.audit_records if "date" in mapping]
    fmt = time_format(times)
    if fmt is not None and fmt != base.records.time_format:
        records["time_format"] = fmt
    return {"records": records} if records else {}


def _enums_unit(seen: Observed, base: Contract, notes: list[str]) -> dict[str, Any]:
    if not seen.invocation_records:
        return {}
    mapping = invocation_fields(seen.invocation_records, base)
    column = {name: [r.get(mapping[name]) for r in seen.invocation_records] for name in mapping}
    enums: dict[str, dict[str, str]] = {}
    for group, values, names, known in (
        ("statuses", column.get("execution_status", []), contract.EXECUTION_STATUSES, base.enums.statuses),
        (
            "trigger_types",
            column.get("trigger_type", []) + column.get("root_trigger_type", []),
            contract.TRIGGER_TYPES,
            base.enums.trigger_types,
        ),
    ):
        found = spellings(values, names, known)
        every = styled(found, names)
        if every is not None and len(every) > len(found):
            notes.append(f"enums.{group}: the spellings not seen follow the style of the {len(found)} seen")
            found = every
        if found:
            enums[group] = found
    return {"enums": enums} if enums else {}


def _logs_unit(seen: Observed, base: Contract) -> dict[str, Any]:
    mode, url_field = delivery(seen.console_reply)
    found: dict[str, Any] = {}
    if mode is not None:
        found["mode"] = mode
    if url_field is not None:
        found["url_field"] = url_field
    diff = _diff(base.logs, found)
    return {"logs": diff} if diff else {}


def _log_files_unit(seen: Observed, base: Contract) -> dict[str, Any]:
    found: dict[str, Any] = {}
    console = find_records(seen.console_file) if seen.console_file is not None else None
    if console is not None:
        found["console_wrapper"] = console[0]
        if console[1] and all(isinstance(line, dict) for line in console[1]):
            fields = _diff(base.log_files.console, console_fields(console[1], base))
            if fields:
                found["console"] = fields
    http = find_records(seen.http_file) if seen.http_file is not None else None
    if http is not None:
        found["http_wrapper"] = http[0]
    known, large = large_message_field(seen.large_message)
    if known:
        found["large_message_field"] = large
    diff = {k: v for k, v in found.items() if k == "console" or getattr(base.log_files, k) != v}
    return {"log_files": diff} if diff else {}


def _errors_unit(seen: Observed, base: Contract) -> dict[str, Any]:
    for body in seen.error_bodies:
        found = error_fields(body)
        if found:
            diff = _diff(base.errors, found)
            return {"errors": diff} if diff else {}
    return {}


def build(seen: Observed, base: Contract) -> Proposal:
    """Lay what ``seen`` reveals over ``base``, one group at a time; a group whose guess the contract
    refuses is left as it was, with a note."""
    notes: list[str] = []
    units: list[tuple[str, Callable[[Contract], dict[str, Any]]]] = [
        ("listing", lambda c: _listing_unit(seen, c, notes)),
        ("records", lambda c: _records_unit(seen, c)),
        ("enums", lambda c: _enums_unit(seen, c, notes)),
        ("logs", lambda c: _logs_unit(seen, c)),
        ("log_files", lambda c: _log_files_unit(seen, c)),
        ("errors", lambda c: _errors_unit(seen, c)),
    ]
    proposed = base
    for name, unit in units:
        changes = unit(proposed)
        if not changes:
            continue
        try:
            proposed = proposed.override(changes, where="contract")
        except SRConnectParamError as exc:
            notes.append(f"{name}: not proposed, the guess does not make a valid contract ({exc.param})")
    contract.load(proposed.changes_from(contract.DEFAULT))  # the file written must load
    return Proposal(proposed, _dotted(proposed.changes_from(base)), notes)
