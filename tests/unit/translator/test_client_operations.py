"""Each operation's request (method, path, query, headers, body) in the three route flavours, and its parsed answer."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import httpx
import pytest

from shared.translator import (
    DocumentStatus,
    DocumentTranslationClient,
    Glossary,
    JobStatus,
    ServiceError,
    Status,
    TranslationInput,
    TranslationTarget,
)
from tests.unit.translator.conftest import (
    ENDPOINT,
    FLAVOURS,
    KEY,
    SOURCE_SAS_URL,
    TARGET_SAS_URL,
    json_response,
)
from tests.unit.translator.reference_examples import JOB_EXAMPLE, JOB_ID

DOC_ID = "273622bd-835c-4946-9798-fd8f19f6bbf2"

BASE = {
    "2026-03-01": f"{ENDPOINT}/translator/document",
    "2024-05-01": f"{ENDPOINT}/translator/document",
    "v1.1": f"{ENDPOINT}/translator/text/batch/v1.1",
}

DOCUMENT_BODY = {
    "path": "https://acct.blob.core.windows.net/target/fr/report.docx",
    "sourcePath": "https://acct.blob.core.windows.net/source/report.docx",
    "createdDateTimeUtc": "2021-01-22T23:11:05.1262994Z",
    "lastActionDateTimeUtc": "2021-01-22T23:20:33.1248097Z",
    "status": "Failed",
    "to": "fr",
    "progress": 1,
    "id": DOC_ID,
    "characterCharged": 0,
    "error": {
        "code": "InvalidRequest",
        "message": "Target document already exists",
        "target": "Document",
        "innerError": {"code": "TargetFileAlreadyExists", "message": "Target document file already exists."},
    },
}


def expected_query(flavour: str, **extra: str) -> dict[str, str]:
    query = {} if flavour == "v1.1" else {"api-version": flavour}
    query.update(extra)
    return query


@pytest.mark.parametrize("flavour", FLAVOURS)
def test_start_translation_posts_the_inputs_and_returns_the_job_id(flavour, service, make_client):
    service.add(
        json_response(202, headers={"Operation-Location": f"{BASE[flavour]}/batches/{JOB_ID}?api-version=2026-03-01"})
    )
    client = make_client(flavour, region="westeurope")
    job_input = TranslationInput(
        SOURCE_SAS_URL,
        (
            TranslationTarget(
                TARGET_SAS_URL,
                "fr",
                category="general",
                glossaries=(Glossary("https://acct.blob.core.windows.net/glossaries/fr.tsv?sig=x", "tsv"),),
            ),
        ),
        storage_type="File",
        source_language="en",
    )

    job_id = client.begin_translation([job_input])

    assert job_id == JOB_ID
    (request,) = service.requests
    assert request.method == "POST"
    assert str(request.url).split("?")[0] == f"{BASE[flavour]}/batches"
    assert dict(request.url.params) == expected_query(flavour)
    assert request.headers["Ocp-Apim-Subscription-Key"] == KEY
    assert request.headers["Ocp-Apim-Subscription-Region"] == "westeurope"
    assert request.headers["Content-Type"] == "application/json"
    assert json.loads(request.content) == {
        "inputs": [
            {
                "source": {"sourceUrl": SOURCE_SAS_URL, "language": "en"},
                "targets": [
                    {
                        "targetUrl": TARGET_SAS_URL,
                        "language": "fr",
                        "category": "general",
                        "glossaries": [
                            {
                                "glossaryUrl": "https://acct.blob.core.windows.net/glossaries/fr.tsv?sig=x",
                                "format": "tsv",
                            }
                        ],
                    }
                ],
                "storageType": "File",
            }
        ]
    }


def test_start_translation_without_operation_location_raises_service_error(service, make_client):
    service.add(json_response(202))
    with pytest.raises(ServiceError, match="Operation-Location"):
        make_client().begin_translation([TranslationInput(SOURCE_SAS_URL, (TranslationTarget(TARGET_SAS_URL, "fr"),))])
    assert len(service.requests) == 1  # not resubmitted


def test_start_translation_refuses_an_empty_batch(make_client):
    with pytest.raises(ValueError, match="at least one"):
        make_client().begin_translation([])


@pytest.mark.parametrize("flavour", FLAVOURS)
def test_get_job_reads_the_status_and_the_retry_after_hint(flavour, service, make_client):
    service.add(json_response(200, JOB_EXAMPLE, headers={"Retry-After": "7"}))

    job = make_client(flavour).get_translation_status(JOB_ID)

    (request,) = service.requests
    assert request.method == "GET"
    assert str(request.url).split("?")[0] == f"{BASE[flavour]}/batches/{JOB_ID}"
    assert dict(request.url.params) == expected_query(flavour)
    assert job == JobStatus(
        id=JOB_ID,
        status=Status.SUCCEEDED,
        created_at=datetime(2020, 3, 26, tzinfo=UTC),
        last_updated_at=datetime(2020, 3, 26, 1, tzinfo=UTC),
        summary=job.summary,
        error=None,
        retry_after=7.0,
    )
    assert (job.summary.total, job.summary.failed, job.summary.success) == (10, 1, 9)
    assert job.is_final


@pytest.mark.parametrize("flavour", FLAVOURS)
def test_cancel_job_deletes_the_batch_and_returns_its_status(flavour, service, make_client):
    service.add(json_response(200, {**JOB_EXAMPLE, "status": "Cancelling"}))

    job = make_client(flavour).cancel_translation(JOB_ID)

    (request,) = service.requests
    assert request.method == "DELETE"
    assert str(request.url).split("?")[0] == f"{BASE[flavour]}/batches/{JOB_ID}"
    assert dict(request.url.params) == expected_query(flavour)
    assert job.status == Status.CANCELLING
    assert not job.is_final


@pytest.mark.parametrize("flavour", FLAVOURS)
def test_get_document_reads_paths_language_and_error(flavour, service, make_client):
    service.add(json_response(200, DOCUMENT_BODY))

    document = make_client(flavour).get_document_status(JOB_ID, DOC_ID)

    (request,) = service.requests
    assert request.method == "GET"
    assert str(request.url).split("?")[0] == f"{BASE[flavour]}/batches/{JOB_ID}/documents/{DOC_ID}"
    assert dict(request.url.params) == expected_query(flavour)
    assert isinstance(document, DocumentStatus)
    assert document.id == DOC_ID
    assert document.status == Status.FAILED and document.is_final
    assert document.source_path == "https://acct.blob.core.windows.net/source/report.docx"
    assert document.target_path == "https://acct.blob.core.windows.net/target/fr/report.docx"
    assert document.language == "fr"
    assert document.progress == 1.0
    assert document.created_at == datetime(2021, 1, 22, 23, 11, 5, 126299, tzinfo=UTC)
    assert document.error is not None
    assert (document.error.code, document.error.inner_code) == ("InvalidRequest", "TargetFileAlreadyExists")


@pytest.mark.parametrize("flavour", FLAVOURS)
def test_list_documents_requests_the_job_documents(flavour, service, make_client):
    service.add(json_response(200, {"value": [DOCUMENT_BODY]}))

    documents = list(make_client(flavour).list_document_statuses(JOB_ID, statuses=["Failed"]))

    (request,) = service.requests
    assert str(request.url).split("?")[0] == f"{BASE[flavour]}/batches/{JOB_ID}/documents"
    assert dict(request.url.params) == expected_query(flavour, statuses="Failed")
    assert [document.id for document in documents] == [DOC_ID]


FORMATS_BODY = {
    "value": [
        {
            "format": "PlainText",
            "fileExtensions": [".txt"],
            "contentTypes": ["text/plain"],
            "versions": [],
            "type": "document",
        },
        {
            "format": "XLIFF",
            "fileExtensions": [".xlf"],
            "contentTypes": ["application/xliff+xml"],
            "defaultVersion": "1.2",
            "versions": ["1.0", "1.1", "1.2"],
            "type": "glossary",
        },
    ]
}


@pytest.mark.parametrize(
    ("flavour", "kind", "path", "query"),
    [
        ("2026-03-01", "document", "/translator/document/formats", {"api-version": "2026-03-01", "type": "document"}),
        ("2026-03-01", "glossary", "/translator/document/formats", {"api-version": "2026-03-01", "type": "glossary"}),
        ("2024-05-01", "document", "/translator/document/formats", {"api-version": "2024-05-01", "type": "document"}),
        ("2024-05-01", "glossary", "/translator/document/formats", {"api-version": "2024-05-01", "type": "glossary"}),
        ("v1.1", "document", "/translator/text/batch/v1.1/documents/formats", {}),
        ("v1.1", "glossary", "/translator/text/batch/v1.1/glossaries/formats", {}),
    ],
)
def test_supported_formats_use_the_flavour_route(flavour, kind, path, query, service, make_client):
    service.add(json_response(200, FORMATS_BODY))
    client = make_client(flavour)

    formats = client.get_supported_document_formats() if kind == "document" else client.get_supported_glossary_formats()

    (request,) = service.requests
    assert request.method == "GET"
    assert request.url.path == path
    assert dict(request.url.params) == query
    assert formats[0].format == "PlainText" and formats[0].file_extensions == (".txt",)
    assert formats[1].default_version == "1.2" and formats[1].versions == ("1.0", "1.1", "1.2")
    assert formats[1].content_types == ("application/xliff+xml",) and formats[1].type == "glossary"


def test_a_success_answer_that_is_not_json_raises_service_error(service, make_client):
    service.add(httpx.Response(200, text="<html>gateway</html>"))
    with pytest.raises(ServiceError, match="not JSON"):
        make_client().get_translation_status(JOB_ID)


def test_job_ids_cannot_escape_their_path_segment(service, make_client):
    service.add(json_response(200, JOB_EXAMPLE))
    make_client().get_translation_status("../formats?x=1")
    assert (
        service.requests[0].url.raw_path == b"/translator/document/batches/..%2Fformats%3Fx%3D1?api-version=2026-03-01"
    )


def test_unknown_api_version_is_refused():
    with pytest.raises(ValueError, match="api_version"):
        DocumentTranslationClient(ENDPOINT, KEY, api_version="3.0")


def test_client_repr_and_context_manager(service, make_client):
    client = make_client()
    assert KEY not in repr(client)
    assert "2026-03-01" in repr(client)
    with client as same:
        assert same is client
