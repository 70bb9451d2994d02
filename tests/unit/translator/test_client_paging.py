"""Paging across pages by the server's link, and the list filters' encoding per flavour."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from shared.translator import Page, ServiceError, Status
from tests.unit.translator.conftest import ENDPOINT, json_response


def job(number: int, status: str = "Succeeded") -> dict:
    return {
        "id": f"job-{number}",
        "status": status,
        "createdDateTimeUtc": "2021-01-22T23:11:05.1262994Z",
        "lastActionDateTimeUtc": "2021-01-22T23:20:33.1248097Z",
        "summary": {"total": 1, "failed": 0, "success": 1, "inProgress": 0, "notYetStarted": 0, "cancelled": 0},
    }


@pytest.mark.parametrize(
    ("flavour", "link_field", "page_path"),
    [
        ("2026-03-01", "nextLink", "/translator/document/batches"),
        ("2024-05-01", "nextLink", "/translator/document/batches"),
        ("v1.1", "@nextLink", "/translator/text/batch/v1.1/batches"),
    ],
)
def test_list_jobs_follows_the_next_link_across_three_pages(flavour, link_field, page_path, service, make_client):
    # Asked for 2 per page, the server chooses 3, then 3, then 1.
    link2 = f"{ENDPOINT}{page_path}?$skip=3&$maxpagesize=2" + ("" if flavour == "v1.1" else f"&api-version={flavour}")
    link3 = f"{ENDPOINT}{page_path}?$skip=6&$maxpagesize=2" + ("" if flavour == "v1.1" else f"&api-version={flavour}")
    service.add(
        json_response(200, {"value": [job(1), job(2), job(3)], link_field: link2}),
        json_response(200, {"value": [job(4), job(5), job(6)], link_field: link3}),
        json_response(200, {"value": [job(7)], link_field: None}),
    )

    jobs = list(make_client(flavour).list_translation_statuses(max_page_size=2))

    assert [item.id for item in jobs] == [f"job-{n}" for n in range(1, 8)]
    assert [str(request.url) for request in service.requests[1:]] == [link2, link3]
    assert all(request.headers["Ocp-Apim-Subscription-Key"] for request in service.requests)


@pytest.mark.parametrize("flavour", ["2026-03-01", "v1.1"])
def test_either_link_field_is_followed_whatever_the_flavour(flavour, service, make_client):
    other_field = "@nextLink" if flavour != "v1.1" else "nextLink"
    service.add(
        json_response(200, {"value": [job(1)], other_field: f"{ENDPOINT}/next-page?token=abc"}),
        json_response(200, {"value": [job(2)]}),
    )

    assert [item.id for item in make_client(flavour).list_translation_statuses()] == ["job-1", "job-2"]


def test_a_2024_link_without_api_version_gets_it_added(service, make_client):
    service.add(
        json_response(200, {"value": [job(1)], "nextLink": f"{ENDPOINT}/translator/document/batches?skip=1"}),
        json_response(200, {"value": [job(2)]}),
    )

    list(make_client("2024-05-01").list_translation_statuses())

    assert dict(service.requests[1].url.params) == {"skip": "1", "api-version": "2024-05-01"}


def test_by_page_makes_one_call_per_page_and_exposes_the_link(service, make_client):
    link = f"{ENDPOINT}/translator/document/batches?skip=2&api-version=2026-03-01"
    service.add(
        json_response(200, {"value": [job(1), job(2)], "nextLink": link}),
        json_response(200, {"value": [job(3)]}),
    )

    pages = make_client().list_translation_statuses().by_page()
    first = next(pages)
    assert len(service.requests) == 1
    assert isinstance(first, Page)
    assert first.next_link == link and [item.id for item in first.items] == ["job-1", "job-2"]
    second = next(pages)
    assert second.next_link is None and [item.id for item in second.items] == ["job-3"]
    assert list(pages) == []
    assert len(service.requests) == 2


def test_list_documents_follows_pages_too(service, make_client):
    document = {"id": "d1", "status": "Succeeded", "path": "p", "sourcePath": "s", "to": "fr", "progress": 1}
    link = f"{ENDPOINT}/translator/document/batches/job-1/documents?skip=1&api-version=2026-03-01"
    service.add(
        json_response(200, {"value": [document], "nextLink": link}),
        json_response(200, {"value": [{**document, "id": "d2", "status": "Canceled"}]}),
    )

    documents = list(make_client().list_document_statuses("job-1"))

    assert [(item.id, item.status) for item in documents] == [("d1", Status.SUCCEEDED), ("d2", Status.CANCELLED)]


def test_a_link_back_to_a_page_already_read_stops_with_an_error(service, make_client):
    first_url = f"{ENDPOINT}/translator/document/batches?api-version=2026-03-01"
    service.add(json_response(200, {"value": [job(1)], "nextLink": first_url}))

    with pytest.raises(ServiceError, match="already read"):
        list(make_client().list_translation_statuses())


def test_top_caps_the_items_even_when_the_server_sends_more(service, make_client):
    service.add(json_response(200, {"value": [job(1), job(2), job(3)]}))

    assert [item.id for item in make_client().list_translation_statuses(top=2)] == ["job-1", "job-2"]


def test_an_empty_list_answer_yields_nothing(service, make_client):
    service.add(json_response(200, {"value": []}))
    assert list(make_client().list_translation_statuses()) == []


CREATED_AFTER = datetime(2024, 5, 1, 8, 30, tzinfo=UTC)
CREATED_BEFORE = datetime(2024, 5, 2, 10, 0, tzinfo=timezone(timedelta(hours=2)))  # 08:00 UTC


# The 2024+ flavours spell paging without `$`; v1.1 keeps the reference pages' `$` names.
FILTERS = {
    "ids": "a,b",
    "statuses": "Succeeded,Cancelled",
    "createdDateTimeUtcStart": "2024-05-01T08:30:00Z",
    "createdDateTimeUtcEnd": "2024-05-02T08:00:00Z",
}
CURRENT_PAGING = {"top": "10", "skip": "5", "maxpagesize": "3", "orderby": "createdDateTimeUtc asc"}
LEGACY_PAGING = {"$top": "10", "$skip": "5", "$maxpagesize": "3", "$orderBy": "createdDateTimeUtc asc"}


@pytest.mark.parametrize(
    ("flavour", "expected"),
    [
        ("2026-03-01", {"api-version": "2026-03-01", **CURRENT_PAGING, **FILTERS}),
        ("2024-05-01", {"api-version": "2024-05-01", **CURRENT_PAGING, **FILTERS}),
        ("v1.1", {**LEGACY_PAGING, **FILTERS}),
    ],
)
def test_list_filters_are_encoded_per_flavour(flavour, expected, service, make_client):
    service.add(json_response(200, {"value": []}))

    list(
        make_client(flavour).list_translation_statuses(
            ids=["a", "b"],
            statuses=[Status.SUCCEEDED, Status.CANCELLED],
            created_after=CREATED_AFTER,
            created_before=CREATED_BEFORE,
            order_by="asc",
            top=10,
            skip=5,
            max_page_size=3,
        )
    )

    (request,) = service.requests
    assert dict(request.url.params) == expected
    # Array filters go comma-separated in one parameter, not repeated.
    assert request.url.params.get_list("statuses") == ["Succeeded,Cancelled"]


def test_order_by_desc_and_bad_values(service, make_client):
    service.add(json_response(200, {"value": []}))
    client = make_client()
    list(client.list_translation_statuses(order_by="desc"))
    assert service.requests[0].url.params["orderby"] == "createdDateTimeUtc desc"
    with pytest.raises(ValueError, match="order_by"):
        client.list_translation_statuses(order_by="sideways")
    with pytest.raises(ValueError, match="max_page_size"):
        client.list_translation_statuses(max_page_size=500)
