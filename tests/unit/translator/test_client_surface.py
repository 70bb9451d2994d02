"""The client's surface the pipeline depends on: the Protocol, pageables, the language list, the
service's clock, and request ids on errors."""

from __future__ import annotations

import inspect
from datetime import timedelta
from email.utils import format_datetime

import pytest

from shared.translator import DocumentTranslationClient, NotFoundError, TranslatorService
from tests.unit.translator.conftest import ENDPOINT, FLAVOURS, error_body, json_response


def uses_the_service(service: TranslatorService) -> TranslatorService:
    return service  # mypy checks the call below: the client satisfies the Protocol


def test_the_client_satisfies_the_protocol_the_pipeline_depends_on(make_client):
    client = make_client()
    assert uses_the_service(client) is client
    for name, member in inspect.getmembers(TranslatorService, inspect.isfunction):
        if name.startswith("_"):
            continue
        expected = inspect.signature(member)
        actual = inspect.signature(getattr(DocumentTranslationClient, name))
        assert list(actual.parameters) == list(expected.parameters), name


def job(job_id: str) -> dict:
    return {"id": job_id, "status": "Running", "createdDateTimeUtc": "2026-01-01T00:00:00Z", "summary": {}}


def test_a_pageable_asks_nothing_until_iterated_and_one_request_per_page(make_client, service):
    client = make_client()
    pageable = client.list_translation_statuses(top=3)
    assert service.requests == []
    service.add(
        json_response(
            200, {"value": [job("a"), job("b")], "nextLink": f"{ENDPOINT}/translator/document/batches?skip=2"}
        ),
        json_response(200, {"value": [job("c"), job("d")]}),
    )
    assert [item.id for item in pageable] == ["a", "b", "c"]  # top counts across pages
    assert len(service.requests) == 2
    service.add(json_response(200, {"value": [job("a")]}))
    [page] = list(client.list_translation_statuses().by_page())
    assert [item.id for item in page.items] == ["a"] and page.next_link is None


@pytest.mark.parametrize("api_version", FLAVOURS)
def test_the_language_list_comes_from_the_text_api_whatever_the_flavour(make_client, service, api_version):
    service.add(json_response(200, {"translation": {"fr": {"name": "French"}, "zh-Hans": {"name": "Chinese"}}}))
    languages = make_client(api_version=api_version).get_supported_languages()
    assert languages == {"fr": "fr", "zh-hans": "zh-Hans"}
    [request] = service.requests
    assert str(request.url) == f"{ENDPOINT}/translator/text/v3.0/languages?api-version=3.0&scope=translation"


def test_the_services_clock_is_measured_from_its_date_header(make_client, service):
    from datetime import UTC, datetime

    ahead = datetime.now(UTC) + timedelta(minutes=7)
    client = make_client()
    assert client.clock_offset is None
    service.add(json_response(200, job("a"), headers={"Date": format_datetime(ahead, usegmt=True)}))
    client.get_translation_status("a")
    assert client.clock_offset is not None
    assert abs(client.clock_offset - timedelta(minutes=7)) < timedelta(seconds=2)


@pytest.mark.parametrize("header", ["X-RequestId", "apim-request-id"])
def test_errors_carry_the_services_request_id(make_client, service, header):
    service.add(json_response(404, error_body("ResourceNotFound", "Batch not found"), headers={header: "6c1f-42"}))
    with pytest.raises(NotFoundError) as caught:
        make_client().get_translation_status("missing")
    assert caught.value.request_id == "6c1f-42"
    assert str(caught.value).endswith("(request id 6c1f-42)")


def test_the_operations_speak_the_sdks_words():
    from shared.translator import DocumentTranslationClient, TranslatorService

    words = {
        "begin_translation",
        "get_translation_status",
        "cancel_translation",
        "list_translation_statuses",
        "list_document_statuses",
    }
    assert words <= set(vars(TranslatorService)) and words <= set(vars(DocumentTranslationClient))
    assert hasattr(DocumentTranslationClient, "get_document_status")
