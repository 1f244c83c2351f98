"""The connection extra ``contract``: laid over the default, checked when the connection is read, in both forms."""

from __future__ import annotations

import json
from typing import Any

import pytest

from airflow_provider_srconnect import contract
from airflow_provider_srconnect.connection import EXTRA_FIELDS, conn_fields, parse_settings
from airflow_provider_srconnect.exceptions import SRConnectParamError
from tests.client.conftest import END, OVERRIDES, START

WHERE = "connection extra 'contract'"


def parse(**extra: Any) -> Any:
    return parse_settings(host=None, schema=None, port=None, login="me@example.com", password="k-1", extra=extra)


@pytest.mark.parametrize("empty", [None, "", {}, "  "])
def test_no_override_is_the_default_contract(empty):
    assert parse().contract is contract.DEFAULT
    assert parse(contract=empty).contract == contract.DEFAULT


@pytest.mark.parametrize("name", sorted(OVERRIDES))
def test_an_override_is_taken_as_an_object_or_as_its_json_text(name):
    override = OVERRIDES[name]
    expected = contract.load(override)

    assert parse(contract=override).contract == expected
    assert parse(contract=json.dumps(override, indent=2)).contract == expected


@pytest.mark.parametrize(
    ("override", "param"),
    [
        ({"paging": {}}, f"{WHERE}.paging"),
        ({"pagination": {"style": "pages"}}, f"{WHERE}.pagination.style"),
        ({"records": {"invocation": {"idd": "x"}}}, f"{WHERE}.records.invocation.idd"),
        ({"window": {"to_inclusive": "yes"}}, f"{WHERE}.window.to_inclusive"),
        ({"enums": {"statuses": {"DONE": "done"}}}, f"{WHERE}.enums.statuses.DONE"),
        ({"listing": {"wrapper": "has space"}}, f"{WHERE}.listing.wrapper"),
        ('{"listing": ', WHERE),
        (["pagination"], WHERE),
    ],
)
def test_a_bad_key_or_value_names_the_dotted_key_and_what_it_accepts(override, param):
    with pytest.raises(SRConnectParamError) as err:
        parse(contract=override)
    assert err.value.param == param
    assert ". " in str(err.value), "the message says what to change"


def test_a_bad_contract_fails_when_the_connection_is_read_before_any_request(make_hook, requests_mock):
    hook = make_hook(contract={"window": {"time_format": "epoch-us"}})

    with pytest.raises(SRConnectParamError) as err:
        list(hook.iter_invocation_logs(START, END))
    assert err.value.param == f"{WHERE}.window.time_format" and "'epoch-ms'" in str(err.value)
    ok, message = hook.test_connection()
    assert not ok and "window.time_format" in message
    assert requests_mock.call_count == 0


def test_the_hook_exposes_its_contract(make_hook):
    assert make_hook().contract is contract.DEFAULT
    assert make_hook(contract=OVERRIDES["pages"]).contract == contract.load(OVERRIDES["pages"])


def test_both_connection_forms_offer_the_contract_as_text():
    (spec,) = [f for f in EXTRA_FIELDS if f.name == "contract"]
    assert spec.label == "Wire contract override (JSON)" and "docs/contract.md" in spec.description
    field = conn_fields()["contract"]
    assert field["label"] == spec.label and field["schema"] == {"type": ["string", "null"]}


def test_the_airflow_2_form_shows_the_contract_in_a_text_area():
    pytest.importorskip("flask_appbuilder")
    from airflow_provider_srconnect.hooks.srconnect import SRConnectHook

    widget = SRConnectHook.get_connection_form_widgets()["contract"]
    assert type(widget.kwargs["widget"]).__name__ == "BS3TextAreaFieldWidget"


def test_the_password_of_the_rate_limit_storage_is_masked(make_hook, mocker):
    masked = mocker.patch("airflow_provider_srconnect.hooks.srconnect.mask_secret")

    settings = make_hook(rate_limit_storage="redis://:p%40ss-7q@127.0.0.1:6379/0").settings

    secrets = {call.args[0] for call in masked.call_args_list}
    assert {"p%40ss-7q", "p@ss-7q"} <= secrets
    assert settings.rate_limit_storage.startswith("redis://")
