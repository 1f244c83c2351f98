"""The ``srconnect`` connection: its extra fields, their checks, and the parsed settings.

Every extra field is declared once in ``EXTRA_FIELDS``; the Airflow 3 connection form
(provider info ``conn-fields``), the Airflow 2 form widgets and the validation all derive from it.
The extra ``contract`` (a JSON object, or its text) is laid over the packaged wire contract and
checked here, so a bad key fails when the connection is read, before any request.
This module does not import Airflow, so provider info stays cheap to load.
"""

from __future__ import annotations

import base64
import hashlib
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from airflow_provider_srconnect import contract
from airflow_provider_srconnect.contract import DEFAULT, Contract
from airflow_provider_srconnect.exceptions import SRConnectParamError

_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.:-]{0,127}$")
_STORAGE_SCHEMES = ("memory", "sqlite", "redis", "rediss")


@dataclass(frozen=True)
class ExtraField:
    """One connection extra, as the form shows it and the parser checks it (``json``: an object or its text)."""

    name: str
    label: str
    kind: Literal["str", "int", "float", "json"]
    description: str
    default: str | int | float | None = None
    choices: tuple[str, ...] = ()
    sensitive: bool = False


EXTRA_FIELDS: tuple[ExtraField, ...] = (
    ExtraField(
        "region",
        "Region",
        "str",
        "SRC region of the account: eu or us. Ignored when Host is set.",
        contract.DEFAULT_REGION,
        choices=tuple(contract.BASE_URLS),
    ),
    ExtraField("team_id", "Team ID", "str", "The team whose logs are read (required for listings)."),
    ExtraField(
        "authorization",
        "Authorization header",
        "str",
        "The ready 'Basic ...' header value from the API Keys page, instead of e-mail + API key.",
        sensitive=True,
    ),
    ExtraField(
        "rate_limit_per_second",
        "Rate limit (requests/s)",
        "float",
        "Client-side budget per user: 5 on the free plan, 10-20 on paid plans.",
        contract.RATE_LIMIT_FREE_PER_SECOND,
    ),
    ExtraField("burst", "Burst", "int", "Requests that may go at once before the rate applies. Default: the rate."),
    ExtraField("timeout", "Timeout (s)", "float", "Per-request timeout; SRC cuts requests off at 25 s.", 30.0),
    ExtraField(
        "max_retries",
        "Max retries",
        "int",
        "Retries of a 5xx or failed request. A throttled one (429) is retried within the max total retry wait.",
        8,
    ),
    ExtraField(
        "max_retry_wait",
        "Max total retry wait (s)",
        "float",
        "Give up once retries of one request have waited this long.",
        300.0,
    ),
    ExtraField(
        "rate_limit_storage",
        "Rate-limit storage",
        "str",
        "Where the budget lives: memory (one process), sqlite:////path/file.db (processes on one "
        "machine) or redis://host:6379/0 (several workers).",
        "memory",
    ),
    ExtraField(
        "contract",
        "Wire contract override (JSON)",
        "json",
        "A JSON object laid over the packaged default contract key by key, for an SRC that answers "
        "differently (see docs/contract.md). Empty = the default.",
    ),
)
_FIELDS = {f.name: f for f in EXTRA_FIELDS}


@dataclass(frozen=True)
class ConnectionSettings:
    """What the hook needs from a connection, checked. The credential never shows in ``repr``."""

    base_url: str
    region: str
    team_id: str | None
    authorization: str = field(repr=False)
    budget_key: str
    rate_limit_per_second: float
    burst: int
    timeout: float
    max_retries: int
    max_retry_wait: float
    rate_limit_storage: str
    contract: Contract = DEFAULT


def _param(name: str) -> str:
    return f"connection extra '{name}'"


def _coerce(spec: ExtraField, raw: Any) -> str | int | float:
    where = _param(spec.name)
    if spec.kind == "str":
        if not isinstance(raw, str) or not raw.strip():
            raise SRConnectParamError(
                where,
                f"expected non-empty text, got {type(raw).__name__}",
                f"Set it to text: {spec.description[0].lower()}{spec.description[1:]}",
            )
        value: str | int | float = raw.strip()
    else:
        try:
            if isinstance(raw, bool):
                raise ValueError
            number = float(raw)
            if not math.isfinite(number) or (spec.kind == "int" and number != int(number)):
                raise ValueError
        except (TypeError, ValueError):
            raise SRConnectParamError(
                where,
                f"expected {'a whole number' if spec.kind == 'int' else 'a number'}, got {raw!r}",
                f"Set it to a number such as {spec.default or 1}.",
            ) from None
        value = int(number) if spec.kind == "int" else number
    if spec.choices and value not in spec.choices:
        raise SRConnectParamError(where, f"unknown value {value!r}", f"Use one of: {', '.join(spec.choices)}.")
    return value


def validate_id(param: str, value: object) -> str:
    """Check an id a user typed (the team); ids from SRC's replies are data, quoted as they are."""
    if not isinstance(value, str) or not _ID.match(value):
        raise SRConnectParamError(
            param,
            f"{value!r} is not a valid SRC id",
            "Use the id as SRC shows it: letters, digits, '-', '_', '.', ':'.",
        )
    return value


def _base_url(host: str | None, schema: str | None, port: int | None, region: str) -> str:
    if not host:
        return contract.BASE_URLS[region]
    if "://" in host:
        url = host
    else:
        scheme = schema if schema in ("http", "https") else "https"
        url = f"{scheme}://{host}"
    if not url.startswith(("http://", "https://")):
        raise SRConnectParamError(
            "connection host",
            f"{host!r} is not an http(s) URL",
            "Leave Host empty to use the region's API, or give e.g. https://api.example.com.",
        )
    if port and url.count(":") < 2:
        url = f"{url}:{port}"
    return url.rstrip("/")


def _authorization(login: str | None, password: str | None, header: str | None) -> tuple[str, str]:
    """Return the Authorization header value and a non-secret key naming the user's budget."""
    if header:
        if login or password:
            raise SRConnectParamError(
                _param("authorization"),
                "given together with Login/Password",
                "Use either the ready header or e-mail + API key, not both.",
            )
        if not header.startswith(f"{contract.AUTH_SCHEME} "):
            raise SRConnectParamError(
                _param("authorization"),
                "does not start with 'Basic '",
                "Paste the whole header value shown on SRC's API Keys page.",
            )
        try:
            user = base64.b64decode(header.split(" ", 1)[1], validate=True).decode().split(":", 1)[0]
        except ValueError:
            raise SRConnectParamError(
                _param("authorization"),
                "is not valid base64",
                "Paste the whole header value shown on SRC's API Keys page.",
            ) from None
        return header, user
    if not login or not password:
        raise SRConnectParamError(
            "connection login/password",
            "missing",
            "Set Login to the account e-mail and Password to an SRC API key "
            "(or the extra 'authorization' to the ready header value).",
        )
    token = base64.b64encode(f"{login}:{password}".encode()).decode()
    return f"{contract.AUTH_SCHEME} {token}", login


def parse_settings(
    *,
    host: str | None,
    schema: str | None,
    port: int | None,
    login: str | None,
    password: str | None,
    extra: Mapping[str, Any],
) -> ConnectionSettings:
    """Check a connection's fields and extras; raise ``SRConnectParamError`` naming the first bad one."""
    unknown = sorted(set(extra) - set(_FIELDS))
    if unknown:
        raise SRConnectParamError(
            _param(unknown[0]), "is not a known field", f"Remove it, or use one of: {', '.join(_FIELDS)}."
        )
    values = {f.name: f.default for f in EXTRA_FIELDS}
    values.update(
        {
            name: _coerce(_FIELDS[name], raw)
            for name, raw in extra.items()
            if raw not in (None, "") and _FIELDS[name].kind != "json"
        }
    )
    # The wire contract: a JSON object or its text over the default; a bad key is named, dotted.
    wire = contract.load(extra.get("contract"), where=_param("contract"))

    rate = float(values["rate_limit_per_second"])  # type: ignore[arg-type]
    if rate <= 0:
        raise SRConnectParamError(
            _param("rate_limit_per_second"),
            f"must be above 0, got {rate}",
            "Use your plan's per-user limit: 5 (free) or 10-20 (paid).",
        )
    burst = int(values["burst"] if values["burst"] is not None else max(1, math.floor(rate)))  # type: ignore[arg-type]
    for name, low in (("burst", 1), ("timeout", 0.001), ("max_retries", 0), ("max_retry_wait", 0)):
        number = burst if name == "burst" else values[name]
        if number < low:  # type: ignore[operator]
            raise SRConnectParamError(
                _param(name),
                f"must be at least {low}, got {number}",
                f"Set it to at least {low}; the default is {_FIELDS[name].default or 'the rate'}.",
            )
    storage = str(values["rate_limit_storage"])
    scheme = storage.split(":", 1)[0]
    if (
        scheme not in _STORAGE_SCHEMES
        or (storage != "memory" and "://" not in storage)
        or (scheme == "sqlite" and not storage.startswith("sqlite:////"))  # an absolute path: four slashes
    ):
        raise SRConnectParamError(
            _param("rate_limit_storage"),
            f"unsupported value {storage!r}",
            "Use memory, sqlite:////abs/path.db or redis://host:6379/0.",
        )
    region = str(values["region"])
    team_id = values["team_id"]
    header, user = _authorization(login, password, values["authorization"])  # type: ignore[arg-type]
    return ConnectionSettings(
        base_url=_base_url(host, schema, port, region),
        region=region,
        team_id=validate_id(_param("team_id"), team_id) if team_id is not None else None,
        authorization=header,
        budget_key="srconnect-" + hashlib.sha256(user.encode()).hexdigest()[:16],
        rate_limit_per_second=rate,
        burst=burst,
        timeout=float(values["timeout"]),  # type: ignore[arg-type]
        max_retries=int(values["max_retries"]),  # type: ignore[arg-type]
        max_retry_wait=float(values["max_retry_wait"]),  # type: ignore[arg-type]
        rate_limit_storage=storage,
        contract=wire,
    )


def conn_fields() -> dict[str, dict[str, Any]]:
    """The ``conn-fields`` of provider info (the Airflow 3 connection form)."""
    fields: dict[str, dict[str, Any]] = {}
    for spec in EXTRA_FIELDS:
        json_type = {"str": "string", "int": "integer", "float": "number", "json": "string"}[spec.kind]
        schema: dict[str, Any] = {"type": [json_type, "null"]}
        if spec.choices:
            # No None here: Airflow 3's form lists every enum value as an option, None as a choice "null".
            # The select can still be cleared (the value is then null, which means the default).
            schema["enum"] = list(spec.choices)
        if spec.default is not None:
            schema["default"] = spec.default
        if spec.sensitive:
            schema["format"] = "password"  # how Airflow 3 marks a field secret
        fields[spec.name] = {"label": spec.label, "description": spec.description, "schema": schema}
    return fields


UI_FIELD_BEHAVIOUR: dict[str, Any] = {
    "hidden-fields": ["schema", "port"],
    "relabeling": {"login": "Account e-mail", "password": "API key", "host": "Base URL (optional)"},
    "placeholders": {
        "login": "you@example.com",
        "host": "empty = the region's API; e.g. http://127.0.0.1:8765 for the sandbox",
        "region": contract.DEFAULT_REGION,
        "team_id": "your-team-id",
    },
}
