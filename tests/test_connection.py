"""The srconnect connection: parsing, defaults and the error each bad field gets."""

from __future__ import annotations

import base64
from typing import Any

import pytest

from airflow_provider_srconnect import contract
from airflow_provider_srconnect.connection import EXTRA_FIELDS, conn_fields, parse_settings
from airflow_provider_srconnect.exceptions import SRConnectParamError


def parse(
    host: str | None = None,
    login: str | None = "me@example.com",
    password: str | None = "secret-key-1",
    schema: str | None = None,
    port: int | None = None,
    **extra: Any,
):
    return parse_settings(host=host, schema=schema, port=port, login=login, password=password, extra=extra)


def test_defaults_are_the_free_plan_and_the_eu_api():
    s = parse(team_id="team-1")

    assert s.base_url == contract.BASE_URLS["eu"] and s.region == "eu"
    assert (s.rate_limit_per_second, s.burst, s.rate_limit_storage) == (5.0, 5, "memory")
    assert s.authorization == "Basic " + base64.b64encode(b"me@example.com:secret-key-1").decode()


def test_region_us_picks_the_us_api_and_host_overrides_it():
    assert parse(region="us").base_url == "https://api.us.scriptrunnerconnect.com"
    assert parse(host="http://127.0.0.1:8765/", region="us").base_url == "http://127.0.0.1:8765"
    assert parse(host="127.0.0.1", schema="http", port=8765).base_url == "http://127.0.0.1:8765"
    assert parse(host="src.example.com").base_url == "https://src.example.com"


def test_the_ready_header_replaces_login_and_password():
    header = "Basic " + base64.b64encode(b"other@example.com:k2").decode()
    s = parse(login=None, password=None, authorization=header)

    assert s.authorization == header
    assert s.budget_key == parse(login="other@example.com", password="k2").budget_key


def test_numbers_may_come_as_text_from_the_form():
    s = parse(rate_limit_per_second="20", burst="10", timeout="40", max_retries="2")

    assert (s.rate_limit_per_second, s.burst, s.timeout, s.max_retries) == (20.0, 10, 40.0, 2)


def test_repr_never_shows_the_credential():
    s = parse()
    assert "secret-key-1" not in repr(s) and s.authorization.split()[1] not in repr(s)


@pytest.mark.parametrize(
    ("kwargs", "names"),
    [
        ({"region": "asia"}, "'region'"),
        ({"rate_limit_per_second": 0}, "'rate_limit_per_second'"),
        ({"rate_limit_per_second": -3}, "'rate_limit_per_second'"),
        ({"rate_limit_per_second": "fast"}, "'rate_limit_per_second'"),
        ({"burst": 0}, "'burst'"),
        ({"burst": 2.5}, "'burst'"),
        ({"timeout": 0}, "'timeout'"),
        ({"max_retries": -1}, "'max_retries'"),
        ({"max_retries": True}, "'max_retries'"),
        ({"rate_limit_storage": "postgres://db"}, "'rate_limit_storage'"),
        ({"team_id": "a/b"}, "'team_id'"),
        ({"team_id": 42}, "'team_id'"),
        ({"teamId": "x"}, "'teamId'"),
        ({"authorization": "Bearer abc"}, "'authorization'"),
        ({"login": None}, "login/password"),
        ({"password": None}, "login/password"),
        ({"authorization": "Basic " + base64.b64encode(b"a:b").decode()}, "'authorization'"),
        ({"host": "ftp://x"}, "connection host"),
    ],
)
def test_each_bad_field_is_named_with_a_fix(kwargs, names):
    with pytest.raises(SRConnectParamError) as err:
        parse(**kwargs)
    assert names in str(err.value)
    assert err.value.param.endswith(names.strip("'")) or names in err.value.param


def test_conn_fields_describe_every_extra_with_its_default():
    fields = conn_fields()

    assert list(fields) == [f.name for f in EXTRA_FIELDS]
    assert fields["region"]["schema"]["enum"] == ["eu", "us"]
    assert fields["rate_limit_per_second"]["schema"] == {"type": ["number", "null"], "default": 5}
    assert fields["authorization"]["schema"]["format"] == "password"


def test_a_choice_field_offers_only_its_choices_in_the_airflow_3_form():
    # Airflow 3 renders each enum value as an option of the select; a None in it showed up as "null".
    for spec in EXTRA_FIELDS:
        if spec.choices:
            assert conn_fields()[spec.name]["schema"]["enum"] == list(spec.choices)
