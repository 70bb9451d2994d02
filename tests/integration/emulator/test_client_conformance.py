"""The app's client (shared/translator/) against the emulator, every operation in every route flavour.

Real SAS tokens from Azurite, so the storage half of each job is checked too.
"""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest
from emulator_testkit import API_VERSIONS, Containers

from devstack.emulator import EmulatorServer
from shared.translator.client import DocumentTranslationClient
from shared.translator.errors import AuthenticationError, InvalidRequestError, NotFoundError
from shared.translator.models import Glossary, JobStatus, TranslationInput, TranslationTarget
from shared.translator.retry import RetryPolicy

pytestmark = pytest.mark.integration


@pytest.fixture(params=API_VERSIONS)
def api_version(request) -> str:
    return request.param


@pytest.fixture
def client(emulator: EmulatorServer, emulator_endpoint: str, api_version: str) -> Iterator[DocumentTranslationClient]:
    with DocumentTranslationClient(emulator_endpoint, emulator.key, api_version=api_version) as instance:
        yield instance


def wait(client: DocumentTranslationClient, job_id: str, timeout: float = 60) -> JobStatus:
    deadline = time.monotonic() + timeout
    while True:
        job = client.get_translation_status(job_id)
        if job.is_final:
            return job
        assert time.monotonic() < deadline, f"job {job_id} still {job.status}"
        time.sleep(0.05)


def folder_input(containers: Containers, *languages: str, glossary: Glossary | None = None) -> TranslationInput:
    return TranslationInput(
        source_url=containers.container_url(containers.source, "rl"),
        targets=[
            TranslationTarget(
                containers.folder_url(containers.target, language, "wl"),
                language,
                glossaries=(glossary,) if glossary else (),
            )
            for language in languages
        ],
    )


def test_start_poll_and_read_documents(client: DocumentTranslationClient, containers: Containers):
    containers.upload({"a.txt": "Hello Contoso", "b.html": "<p>Hi</p>"})
    containers.target.upload_blob("glossary.tsv", "Contoso\tContoso SA\n")
    glossary = Glossary(containers.blob_sas_url(containers.target, "glossary.tsv", "rl"), "TSV")

    job_id = client.begin_translation([folder_input(containers, "fr", "de", glossary=glossary)])
    job = wait(client, job_id)

    assert job.id == job_id and job.status == "Succeeded"
    assert job.summary.total == 4 and job.summary.success == 4
    assert job.summary.total_character_charged > 0
    assert job.created_at is not None and job.last_updated_at >= job.created_at
    documents = list(client.list_document_statuses(job_id))
    assert {(document.source_path.rsplit("/", 1)[1], document.language) for document in documents} == {
        ("a.txt", "fr"),
        ("a.txt", "de"),
        ("b.html", "fr"),
        ("b.html", "de"),
    }
    assert all("sig=" not in document.target_path for document in documents)
    one = client.get_document_status(job_id, documents[0].id)
    assert one.id == documents[0].id and one.status == "Succeeded" and one.progress == 1
    assert containers.read_target("de/a.txt") == "[de] Hello Contoso SA"
    assert containers.read_target("fr/b.html") == "<p>[fr] Hi</p>"


def test_single_file_job(client: DocumentTranslationClient, containers: Containers):
    containers.upload({"in/report.md": "# Report"})
    target_base, target_sas = containers.container_url(containers.target, "wl").split("?", 1)

    job_id = client.begin_translation(
        [
            TranslationInput(
                source_url=containers.blob_sas_url(containers.source, "in/report.md", "r"),
                targets=[TranslationTarget(f"{target_base}/es/report.md?{target_sas}", "es")],
                storage_type="File",
            )
        ]
    )

    assert wait(client, job_id).status == "Succeeded"
    assert containers.read_target("es/report.md") == "# [es] Report"


def test_document_failures_reach_the_client_with_their_codes(client: DocumentTranslationClient, containers: Containers):
    containers.upload({"taken.txt": "x", "empty.txt": "", "fine.txt": "y"})
    containers.target.upload_blob("fr/taken.txt", b"already here")

    job = wait(client, client.begin_translation([folder_input(containers, "fr")]))

    assert job.status == "Succeeded" and job.summary.failed == 2
    failed = {
        document.source_path.rsplit("/", 1)[1]: document
        for document in client.list_document_statuses(job.id)
        if document.status == "Failed"
    }
    assert failed["taken.txt"].error.inner_code == "TargetFileAlreadyExists"
    assert failed["empty.txt"].error.inner_code == "NoTranslatableText"


def test_validation_failure_reaches_the_client(client: DocumentTranslationClient, containers: Containers):
    containers.upload({"a.txt": "x"})
    read_only_target = TranslationInput(
        source_url=containers.container_url(containers.source, "rl"),
        targets=[TranslationTarget(containers.container_url(containers.target, "r"), "fr")],
    )

    job = wait(client, client.begin_translation([read_only_target]))

    assert job.status == "ValidationFailed"
    assert job.error is not None and job.error.inner_code == "InvalidTargetDocumentAccessLevel"
    assert list(client.list_document_statuses(job.id)) == []


def test_list_jobs_filters_and_pages(client: DocumentTranslationClient, containers: Containers):
    containers.upload({"a.txt": "x"})
    job_ids = [
        client.begin_translation(
            [
                TranslationInput(
                    source_url=containers.container_url(containers.source, "rl"),
                    targets=[TranslationTarget(containers.folder_url(containers.target, f"run{number}", "wl"), "fr")],
                )
            ]
        )
        for number in range(7)
    ]
    jobs = [wait(client, job_id) for job_id in job_ids]
    newest_first = job_ids[::-1]

    assert [job.id for job in client.list_translation_statuses()] == newest_first
    assert [job.id for job in client.list_translation_statuses(order_by="asc")] == job_ids
    assert [job.id for job in client.list_translation_statuses(top=3, skip=2, max_page_size=2)] == newest_first[2:5]
    pages = list(client.list_translation_statuses(max_page_size=3).by_page())
    assert [len(page.items) for page in pages] == [3, 3, 1]
    assert [job.id for job in client.list_translation_statuses(ids=job_ids[:2])] == job_ids[:2][::-1]
    assert len(list(client.list_translation_statuses(statuses=["Succeeded", "Cancelled"]))) == 7
    assert list(client.list_translation_statuses(statuses=["ValidationFailed"])) == []
    window = list(client.list_translation_statuses(created_after=jobs[2].created_at, created_before=jobs[4].created_at))
    assert [job.id for job in window] == newest_first[2:5]


def test_cancel(client: DocumentTranslationClient, containers: Containers, start_emulator, api_version: str):
    containers.upload({"a.txt": "x"})
    finished = wait(client, client.begin_translation([folder_input(containers, "fr")]))

    with pytest.raises(InvalidRequestError):
        client.cancel_translation(finished.id)

    slow_server = start_emulator(document_seconds=0.5, workers=1)
    containers.upload({f"more{number}.txt": "y" for number in range(4)})
    with DocumentTranslationClient(slow_server.endpoint, slow_server.key, api_version=api_version) as slow:
        job_id = slow.begin_translation([folder_input(containers, "de")])
        cancelling = slow.cancel_translation(job_id)
        assert cancelling.status == "Cancelling"
        cancelled = wait(slow, job_id)
    assert cancelled.status == "Cancelled"


def test_supported_formats(client: DocumentTranslationClient):
    documents = client.get_supported_document_formats()
    glossaries = client.get_supported_glossary_formats()

    assert ".txt" in {extension for item in documents for extension in item.file_extensions}
    assert {item.format for item in glossaries} == {"XLIFF", "TSV", "CSV"}


def test_errors_map_to_the_client_exceptions(
    client: DocumentTranslationClient, emulator_endpoint: str, api_version: str
):
    with pytest.raises(NotFoundError) as not_found:
        client.get_translation_status("00000000-0000-0000-0000-000000000000")
    assert not_found.value.code == "ResourceNotFound"

    with DocumentTranslationClient(emulator_endpoint, "wrong-key", api_version=api_version) as stranger:
        with pytest.raises(AuthenticationError):
            stranger.get_translation_status("00000000-0000-0000-0000-000000000000")


def test_client_retries_through_injected_faults(containers: Containers, start_emulator):
    flaky = start_emulator(fault_rate=0.3, seed=3)
    retry = RetryPolicy(base_delay=0.01, max_delay=0.05, max_attempts=20)
    with DocumentTranslationClient(flaky.endpoint, flaky.key, retry=retry) as client:
        for _ in range(10):
            assert client.get_supported_glossary_formats()
    assert sum(flaky.stats()["faults"].values()) > 0
