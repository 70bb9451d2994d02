"""List semantics with raw HTTP, straight from the reference pages' wording (paging, filters, order, links)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import datetime

import httpx
import pytest
from azure.storage.blob import BlobServiceClient
from emulator_testkit import API_VERSIONS, Api, Containers

from devstack.emulator import EmulatorOptions, EmulatorServer

pytestmark = pytest.mark.integration

SUCCEEDED_JOBS = 40
VALIDATION_FAILED_JOBS = 15
TOTAL_JOBS = SUCCEEDED_JOBS + VALIDATION_FAILED_JOBS


@pytest.fixture(scope="module")
def server() -> Iterator[EmulatorServer]:
    """An emulator of its own, so the job counts below are exact."""
    with EmulatorServer.start(EmulatorOptions(key="paging-key", document_seconds=0)) as instance:
        yield instance


@pytest.fixture(scope="module")
def jobs(server: EmulatorServer, blob_service: BlobServiceClient, azurite) -> list[dict]:
    """55 finished jobs, newest first (the default order): 40 Succeeded, 15 ValidationFailed."""
    suffix = uuid.uuid4().hex[:10]
    containers = Containers(
        blob_service,
        azurite.endpoints.blob_url,
        blob_service.create_container(f"paging-source-{suffix}"),
        blob_service.create_container(f"paging-target-{suffix}"),
    )
    containers.upload({"tiny.txt": "Hi"})
    api = Api(server.endpoint, server.key)
    ids = []
    for number in range(TOTAL_JOBS):
        # Source SAS without read makes a job fail validation: a second status to filter on.
        source_permission = "rl" if number % 11 < 8 else "l"
        ids.append(api.start([containers.batch_input(source_permission, target_folder=f"job{number}")]))
    finished = [api.wait(job_id) for job_id in ids]
    api.close()
    assert sum(job["status"] == "Succeeded" for job in finished) == SUCCEEDED_JOBS
    return sorted(finished, key=lambda job: job["createdDateTimeUtc"], reverse=True)


@pytest.fixture(params=API_VERSIONS)
def flavoured_api(request, server: EmulatorServer) -> Iterator[Api]:
    client = Api(server.endpoint, server.key, request.param)
    yield client
    client.close()


@pytest.fixture
def api(server: EmulatorServer) -> Iterator[Api]:
    client = Api(server.endpoint, server.key)
    yield client
    client.close()


def ids_of(items: list[dict]) -> list[str]:
    return [item["id"] for item in items]


def test_default_page_size_is_50(api: Api, jobs: list[dict]):
    body = api.get("/batches").json()

    assert ids_of(body["value"]) == ids_of(jobs[:50])
    assert body["nextLink"]


def test_default_order_is_newest_first_and_asc_reverses_it(api: Api, jobs: list[dict]):
    default = api.follow("/batches")
    descending = api.follow("/batches", {"$orderBy": "createdDateTimeUtc desc"})
    ascending = api.follow("/batches", {"$orderBy": "createdDateTimeUtc asc"})

    assert ids_of(default) == ids_of(jobs) == ids_of(descending)
    assert ids_of(ascending) == ids_of(jobs)[::-1]


@pytest.mark.parametrize("page_size", [1, 7, 100])
def test_maxpagesize_within_1_to_100_is_honoured(api: Api, jobs: list[dict], page_size: int):
    body = api.get("/batches", {"$maxpagesize": page_size}).json()

    assert len(body["value"]) == min(page_size, TOTAL_JOBS)
    assert ("nextLink" in body) == (page_size < TOTAL_JOBS)


@pytest.mark.parametrize(
    "params",
    [
        {"$maxpagesize": "0"},
        {"$maxpagesize": "101"},
        {"maxpagesize": "0"},
        {"$top": "-1"},
        {"$skip": "-1"},
        {"$top": "ten"},
        {"skip": "1.5"},
        {"$orderBy": "name asc"},
        {"$orderBy": "createdDateTimeUtc sideways"},
        {"statuses": "Finished"},
        {"createdDateTimeUtcStart": "yesterday"},
    ],
)
def test_values_the_server_cannot_honour_are_errors(api: Api, jobs: list[dict], params: dict):
    response = api.get("/batches", params)

    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] and error["message"]


def test_skip_applies_before_top(api: Api, jobs: list[dict]):
    body = api.get("/batches", {"$top": "10", "$skip": "5"}).json()

    assert ids_of(body["value"]) == ids_of(jobs[5:15])
    assert "nextLink" not in body


def test_top_counts_across_pages(api: Api, jobs: list[dict]):
    first = api.get("/batches", {"$top": "25", "$maxpagesize": "10"}).json()
    everything = api.follow("/batches", {"$top": "25", "$maxpagesize": "10"})

    assert len(first["value"]) == 10
    assert ids_of(everything) == ids_of(jobs[:25])


def test_skip_and_top_with_pages_continue_through_the_links(api: Api, jobs: list[dict]):
    everything = api.follow("/batches", {"$skip": "3", "$top": "20", "$maxpagesize": "6"})

    assert ids_of(everything) == ids_of(jobs[3:23])


def test_parameters_without_dollar_mean_the_same(api: Api, jobs: list[dict]):
    with_dollar = api.follow(
        "/batches", {"$top": "9", "$skip": "2", "$maxpagesize": "4", "$orderBy": "createdDateTimeUtc asc"}
    )
    without_dollar = api.follow(
        "/batches", {"top": "9", "skip": "2", "maxpagesize": "4", "orderby": "createdDateTimeUtc asc"}
    )

    assert ids_of(with_dollar) == ids_of(without_dollar) == ids_of(jobs[::-1][2:11])


def test_statuses_filter_comma_separated_or_repeated(api: Api, jobs: list[dict]):
    failed = [job for job in jobs if job["status"] == "ValidationFailed"]

    only_failed = api.follow("/batches", {"statuses": "ValidationFailed"})
    comma = api.follow("/batches", {"statuses": "Succeeded,ValidationFailed"})
    repeated = api.follow("/batches", [("statuses", "Succeeded"), ("statuses", "ValidationFailed")])
    none_match = api.follow("/batches", {"statuses": "Cancelled,Canceled"})

    assert ids_of(only_failed) == ids_of(failed)
    assert ids_of(comma) == ids_of(repeated) == ids_of(jobs)
    assert none_match == []


def test_ids_filter_comma_separated_or_repeated(api: Api, jobs: list[dict]):
    chosen = [jobs[1]["id"], jobs[4]["id"], jobs[30]["id"]]

    comma = api.follow("/batches", {"ids": ",".join(chosen)})
    repeated = api.follow("/batches", [("ids", job_id) for job_id in chosen])

    assert ids_of(comma) == ids_of(repeated) == chosen


def test_created_date_range_is_inclusive(api: Api, jobs: list[dict]):
    oldest_first = jobs[::-1]
    start, end = oldest_first[10]["createdDateTimeUtc"], oldest_first[19]["createdDateTimeUtc"]

    both = api.follow("/batches", {"createdDateTimeUtcStart": start, "createdDateTimeUtcEnd": end})
    from_start = api.follow("/batches", {"createdDateTimeUtcStart": start})
    until_end = api.follow("/batches", {"createdDateTimeUtcEnd": datetime.fromisoformat(end).isoformat()})

    assert ids_of(both) == ids_of(oldest_first[10:20][::-1])
    assert len(from_start) == TOTAL_JOBS - 10
    assert len(until_end) == 20


def test_next_link_field_per_flavour_reaches_every_item_once(flavoured_api: Api, jobs: list[dict]):
    first = flavoured_api.get("/batches", {"$maxpagesize": "8"}).json()
    everything = flavoured_api.follow("/batches", {"$maxpagesize": "8"})

    expected_field, other_field = ("@nextLink", "nextLink") if flavoured_api.legacy else ("nextLink", "@nextLink")
    assert first[expected_field].startswith(flavoured_api.endpoint)
    assert other_field not in first
    assert sorted(ids_of(everything)) == sorted(ids_of(jobs))
    assert len(everything) == TOTAL_JOBS


@pytest.mark.parametrize("api_version", API_VERSIONS)
def test_document_lists_page_too(api_version: str, start_emulator, containers: Containers):
    # An emulator of its own: this job must not change the job counts the other tests rely on.
    own = start_emulator()
    flavoured_api = Api(own.endpoint, own.key, api_version)
    containers.upload({f"doc{number}.txt": f"text {number}" for number in range(5)})
    languages = ["fr", "de"]
    inputs = [
        {
            "source": {"sourceUrl": containers.container_url(containers.source, "rl")},
            "targets": [
                {"targetUrl": containers.folder_url(containers.target, language, "wl"), "language": language}
                for language in languages
            ],
        }
    ]
    job_id = flavoured_api.start(inputs)
    flavoured_api.wait(job_id)

    first = flavoured_api.get(f"/batches/{job_id}/documents", {"$maxpagesize": "4"}).json()
    documents = flavoured_api.follow(f"/batches/{job_id}/documents", {"$maxpagesize": "4"})
    french = flavoured_api.follow(f"/batches/{job_id}/documents", {"$top": "3", "$orderBy": "createdDateTimeUtc asc"})

    assert len(first["value"]) == 4
    assert len(documents) == 10 and len({document["id"] for document in documents}) == 10
    assert {(document["sourcePath"].rsplit("/", 1)[1], document["to"]) for document in documents} == {
        (f"doc{number}.txt", language) for number in range(5) for language in languages
    }
    assert len(french) == 3
    assert flavoured_api.get(f"/batches/{job_id}/documents", {"$maxpagesize": "101"}).status_code == 400


def test_missing_or_wrong_key_is_unauthorized(server: EmulatorServer, jobs: list[dict]):
    url = f"{server.endpoint}/translator/document/batches?api-version=2026-03-01"

    missing = httpx.get(url)
    wrong = httpx.get(url, headers={"Ocp-Apim-Subscription-Key": "not-the-key"})

    for response in (missing, wrong):
        assert response.status_code == 401
        assert response.json()["error"]["code"] == "Unauthorized"


def test_unknown_job_is_not_found(flavoured_api: Api, jobs: list[dict]):
    unknown = str(uuid.uuid4())

    for path in (f"/batches/{unknown}", f"/batches/{unknown}/documents", f"/batches/{unknown}/documents/x"):
        response = flavoured_api.get(path)
        assert response.status_code == 404
        assert response.json()["error"]["code"] == "ResourceNotFound"


@pytest.mark.parametrize("api_version", [None, "2023-01-01"])
def test_current_routes_need_a_known_api_version(server: EmulatorServer, api_version: str | None):
    params = {"api-version": api_version} if api_version else {}

    response = httpx.get(
        f"{server.endpoint}/translator/document/batches",
        params=params,
        headers={"Ocp-Apim-Subscription-Key": server.key},
    )

    assert response.status_code == 400
    assert response.json()["error"]["code"] == "InvalidRequest"
