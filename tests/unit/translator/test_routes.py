"""Route building details: link following, dates, endpoints."""

from __future__ import annotations

import logging
from datetime import datetime

import pytest

from shared.translator.routes import ListQuery, Routes, format_datetime
from tests.unit.translator.conftest import ENDPOINT, json_response


def test_trailing_slash_on_the_endpoint_is_ignored():
    assert Routes(ENDPOINT + "/").batch("j") == f"{ENDPOINT}/translator/document/batches/j?api-version=2026-03-01"
    assert Routes(ENDPOINT + "/", "v1.1").batch("j") == f"{ENDPOINT}/translator/text/batch/v1.1/batches/j"


def test_an_endpoint_that_is_not_a_url_is_refused():
    with pytest.raises(ValueError, match="endpoint"):
        Routes("contoso.cognitiveservices.azure.com")


def test_follow_keeps_a_link_that_has_api_version_and_completes_a_relative_one():
    routes = Routes(ENDPOINT, "2024-05-01")
    link = f"{ENDPOINT}/translator/document/batches?api-version=2024-05-01&skip=50"
    assert routes.follow(link) == link
    assert routes.follow("/translator/document/batches?skip=50") == (
        f"{ENDPOINT}/translator/document/batches?skip=50&api-version=2024-05-01"
    )
    legacy = f"{ENDPOINT}/translator/text/batch/v1.1/batches?$skip=50"
    assert Routes(ENDPOINT, "v1.1").follow(legacy) == legacy


def test_naive_datetimes_are_taken_as_utc_and_microseconds_kept():
    assert format_datetime(datetime(2024, 5, 1, 8, 30)) == "2024-05-01T08:30:00Z"
    assert format_datetime(datetime(2024, 5, 1, 8, 30, 0, 250000)) == "2024-05-01T08:30:00.250000Z"


def test_negative_top_or_skip_is_refused():
    with pytest.raises(ValueError, match="skip"):
        ListQuery(skip=-1)


def test_each_request_logs_one_line_with_method_url_status_and_attempt(service, make_client, caplog):
    service.add(json_response(503), json_response(200, {"id": "j", "status": "Running"}))
    with caplog.at_level(logging.DEBUG, logger="shared.translator.client"):
        make_client().get_translation_status("j")
    lines = [record.getMessage() for record in caplog.records if record.name == "shared.translator.client"]
    url = f"{ENDPOINT}/translator/document/batches/j?api-version=2026-03-01"
    assert lines == [f"GET {url} -> 503 (attempt 1)", f"GET {url} -> 200 (attempt 2)"]


def test_list_filters_are_exactly_the_list_query_fields():
    """The list calls' keyword arguments and the query they build must not drift apart."""
    from dataclasses import fields
    from typing import get_type_hints

    from shared.translator.routes import ListFilters

    assert get_type_hints(ListFilters) == {
        field.name: hint for field, hint in zip(fields(ListQuery), get_type_hints(ListQuery).values(), strict=True)
    }
