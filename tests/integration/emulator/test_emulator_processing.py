"""The emulator processes batches as the service does: storage through the request's URLs, outcomes per document."""

from __future__ import annotations

import logging
import time
from urllib.parse import parse_qs

import pytest
from emulator_testkit import Api, Containers, folder_input

pytestmark = pytest.mark.integration


def test_folder_round_trip_translates_each_format_keeping_its_structure(api: Api, containers: Containers):
    containers.upload(
        {
            "notes.txt": "Hello world\n\nSecond line\n",
            "page.html": '<html><body><p class="intro">Hello</p><script>var x = 1;</script></body></html>',
            "table.csv": 'name,comment\nAda,"likes, commas"\n',
            "readme.md": "# Title\n\n- first item\n\n```\ncode stays\n```\n",
            "strings.xlf": '<xliff version="1.2"><file><body><trans-unit id="1"><source>Good morning</source>'
            "</trans-unit></body></file></xliff>",
        }
    )
    job_id = api.start(
        [
            folder_input(
                containers.container_url(containers.source, "rl"), containers.folder_url(containers.target, "fr", "wl")
            )
        ]
    )

    job = api.wait(job_id)

    assert job["status"] == "Succeeded"
    assert job["summary"]["total"] == 5 and job["summary"]["success"] == 5
    assert job["summary"]["totalCharacterCharged"] > 0
    assert containers.read_target("fr/notes.txt") == "[fr] Hello world\n\n[fr] Second line\n"
    assert containers.read_target("fr/page.html") == (
        '<html><body><p class="intro">[fr] Hello</p><script>var x = 1;</script></body></html>'
    )
    assert containers.read_target("fr/table.csv").splitlines() == [
        "[fr] name,[fr] comment",
        '[fr] Ada,"[fr] likes, commas"',
    ]
    assert containers.read_target("fr/readme.md") == "# [fr] Title\n\n- [fr] first item\n\n```\ncode stays\n```\n"
    assert "<target>[fr] Good morning</target>" in containers.read_target("fr/strings.xlf")
    html_properties = containers.target.get_blob_client("fr/page.html").get_blob_properties()
    assert html_properties.content_settings.content_type == "text/html"


def test_document_statuses_name_blobs_without_their_sas(api: Api, containers: Containers):
    containers.upload({"a.txt": "Hello"})
    job_id = api.start(
        [
            folder_input(
                containers.container_url(containers.source, "rl"),
                containers.folder_url(containers.target, "de", "wl"),
                language="de",
            )
        ]
    )
    api.wait(job_id)

    [document] = api.documents(job_id)

    assert document["status"] == "Succeeded"
    assert document["path"] == f"{containers.blob_url}/{containers.target.container_name}/de/a.txt"
    assert document["sourcePath"] == f"{containers.blob_url}/{containers.source.container_name}/a.txt"
    assert document["to"] == "de" and document["progress"] == 1
    assert document["characterCharged"] == len("Hello")
    assert api.get(f"/batches/{job_id}/documents/{document['id']}").json() == document
    assert api.get(f"/batches/{job_id}/documents/not-a-document").status_code == 404


def test_job_status_carries_retry_after_and_service_timestamps(api: Api, containers: Containers):
    containers.upload({"a.txt": "Hello"})
    job_id = api.start([containers.batch_input("rl", "wl")])

    response = api.get(f"/batches/{job_id}")

    assert int(response.headers["Retry-After"]) >= 1
    created = response.json()["createdDateTimeUtc"]
    assert created.endswith("Z") and len(created.split(".")[1]) == 8  # seven digits and the Z


def test_single_file_into_two_languages(api: Api, containers: Containers):
    containers.upload({"docs/report.txt": "Quarterly report"})
    target_sas = containers.container_url(containers.target, "wl").split("?", 1)[1]
    target_base = f"{containers.blob_url}/{containers.target.container_name}"
    job_id = api.start(
        [
            {
                "storageType": "File",
                "source": {
                    "sourceUrl": containers.blob_sas_url(containers.source, "docs/report.txt", "r"),
                    "language": "en",
                },
                "targets": [
                    {"targetUrl": f"{target_base}/es/report.txt?{target_sas}", "language": "es"},
                    {"targetUrl": f"{target_base}/de/report.txt?{target_sas}", "language": "de"},
                ],
            }
        ]
    )

    job = api.wait(job_id)

    assert job["status"] == "Succeeded" and job["summary"]["total"] == 2
    assert containers.read_target("es/report.txt") == "[es] Quarterly report"
    assert containers.read_target("de/report.txt") == "[de] Quarterly report"


def test_prefix_and_suffix_filter_and_unsupported_files_are_skipped(api: Api, containers: Containers):
    containers.upload({"in/a.txt": "one", "in/b.md": "two", "in/c.exe": "binary", "out/d.txt": "three"})
    job_id = api.start(
        [
            {
                "source": {"sourceUrl": containers.container_url(containers.source, "rl"), "filter": {"prefix": "in/"}},
                "targets": [{"targetUrl": containers.container_url(containers.target, "wl"), "language": "fr"}],
            }
        ]
    )

    job = api.wait(job_id)

    assert job["summary"]["total"] == 2
    assert sorted(blob.name for blob in containers.target.list_blobs()) == ["in/a.txt", "in/b.md"]

    other = api.start(
        [
            {
                "source": {"sourceUrl": containers.container_url(containers.source, "rl"), "filter": {"suffix": ".md"}},
                "targets": [{"targetUrl": containers.folder_url(containers.target, "md", "wl"), "language": "fr"}],
            }
        ]
    )
    assert api.wait(other)["summary"]["total"] == 1


def test_csv_glossary_terms_appear_in_the_translation(api: Api, containers: Containers):
    containers.upload({"a.txt": "The Contoso portal is open"})
    containers.target.upload_blob("glossaries/en-fr.csv", "Contoso portal,portail Contoso\n")
    job_id = api.start(
        [
            {
                "source": {"sourceUrl": containers.container_url(containers.source, "rl")},
                "targets": [
                    {
                        "targetUrl": containers.folder_url(containers.target, "fr", "wl"),
                        "language": "fr",
                        "glossaries": [
                            {
                                "glossaryUrl": containers.blob_sas_url(containers.target, "glossaries/en-fr.csv", "rl"),
                                "format": "csv",
                            }
                        ],
                    }
                ],
            }
        ]
    )

    assert api.wait(job_id)["status"] == "Succeeded"
    assert containers.read_target("fr/a.txt") == "[fr] The portail Contoso is open"


def test_an_unreadable_glossary_fails_its_language_documents_not_the_job(api: Api, containers: Containers):
    containers.upload({"a.txt": "text"})
    containers.target.upload_blob("g.tsv", "a\tb\n")
    job_id = api.start(
        [
            {
                "source": {"sourceUrl": containers.container_url(containers.source, "rl")},
                "targets": [
                    {
                        "targetUrl": containers.container_url(containers.target, "wl"),
                        "language": "fr",
                        "glossaries": [
                            {"glossaryUrl": containers.blob_sas_url(containers.target, "g.tsv", "w"), "format": "TSV"}
                        ],
                    }
                ],
            }
        ]
    )

    job = api.wait(job_id)

    # "If the glossary is invalid or unreachable during translation, an error is indicated in the
    # document status" (the service's API reference).
    assert job["status"] == "Failed"
    [document] = api.documents(job_id)
    assert document["status"] == "Failed"
    assert document["error"]["innerError"]["code"] == "InvalidGlossaryAccessLevel"


@pytest.mark.parametrize(
    ("source_permission", "target_permission", "inner_code"),
    [
        ("rl", "r", "InvalidTargetDocumentAccessLevel"),  # a read-only target
        ("rl", "l", "InvalidTargetDocumentAccessLevel"),  # a list-only target
        ("l", "wl", "InvalidDocumentAccessLevel"),  # a source that cannot be read
        ("r", "wl", "InvalidDocumentAccessLevel"),  # a source that cannot be listed
    ],
)
def test_a_sas_missing_a_permission_fails_validation_with_the_services_code(
    api: Api, containers: Containers, source_permission: str, target_permission: str, inner_code: str
):
    containers.upload({"a.txt": "Hello"})
    job_id = api.start([containers.batch_input(source_permission, target_permission)])

    job = api.wait(job_id)

    assert job["status"] == "ValidationFailed"
    assert (job["error"]["code"], job["error"]["innerError"]["code"]) == ("InvalidRequest", inner_code)
    assert api.documents(job_id) == []
    assert list(containers.target.list_blobs()) == []


def test_existing_target_fails_only_that_document(api: Api, containers: Containers):
    containers.upload({"taken.txt": "Hello", "free.txt": "World"})
    containers.target.upload_blob("taken.txt", b"an earlier translation")
    job_id = api.start([containers.batch_input("rl", "wl")])

    job = api.wait(job_id)

    assert job["status"] == "Succeeded"
    assert job["summary"]["failed"] == 1 and job["summary"]["success"] == 1
    by_source = {document["sourcePath"].rsplit("/", 1)[1]: document for document in api.documents(job_id)}
    assert by_source["taken.txt"]["status"] == "Failed"
    assert by_source["taken.txt"]["error"]["innerError"]["code"] == "TargetFileAlreadyExists"
    assert by_source["taken.txt"]["characterCharged"] == 0
    assert by_source["free.txt"]["status"] == "Succeeded"
    assert containers.read_target("taken.txt") == "an earlier translation"


def test_empty_document_has_no_translatable_text(api: Api, containers: Containers):
    containers.upload({"empty.txt": "", "blank.md": "\n   \n", "ok.txt": "Hi"})
    job_id = api.start([containers.batch_input("rl", "wl")])

    job = api.wait(job_id)

    assert job["status"] == "Succeeded" and job["summary"]["failed"] == 2
    failed = [document for document in api.documents(job_id) if document["status"] == "Failed"]
    assert {document["error"]["innerError"]["code"] for document in failed} == {"NoTranslatableText"}


def test_job_fails_when_every_document_fails(api: Api, containers: Containers):
    containers.upload({"empty.txt": ""})
    job_id = api.start([containers.batch_input("rl", "wl")])

    job = api.wait(job_id)

    assert job["status"] == "Failed"
    assert job["summary"] == {**job["summary"], "total": 1, "failed": 1, "success": 0}
    assert job["error"]["innerError"]["code"] == "NoTranslatableText"


def test_empty_source_fails_validation(api: Api, containers: Containers):
    job_id = api.start([containers.batch_input("rl", "wl")])

    job = api.wait(job_id)

    assert job["status"] == "ValidationFailed"
    assert job["error"]["innerError"]["code"] == "NoDocumentsFound"


def test_url_without_sas_needs_the_emulator_identity(api: Api, containers: Containers, start_emulator, azurite):
    containers.upload({"a.txt": "Hello"})
    plain_source = f"{containers.blob_url}/{containers.source.container_name}"
    plain_target = f"{containers.blob_url}/{containers.target.container_name}"

    without_identity = api.wait(api.start([folder_input(plain_source, plain_target)]))
    assert without_identity["status"] == "ValidationFailed"
    assert without_identity["error"]["innerError"]["code"] == "InvalidDocumentAccessLevel"

    with_identity = start_emulator(storage_connection_string=azurite.connection_string)
    identity_api = Api(with_identity.endpoint, with_identity.key)
    job = identity_api.wait(identity_api.start([folder_input(plain_source, plain_target)]))
    assert job["status"] == "Succeeded"
    assert containers.read_target("a.txt") == "[fr] Hello"


def test_limits_fail_documents_and_batches(containers: Containers, start_emulator):
    server = start_emulator(max_document_bytes=10, max_documents=2)
    limited = Api(server.endpoint, server.key)
    containers.upload({"small.txt": "tiny", "large.txt": "much more than ten bytes"})
    target = containers.container_url(containers.target, "wl")

    job = limited.wait(limited.start([folder_input(containers.container_url(containers.source, "rl"), target)]))

    assert job["status"] == "Succeeded"
    [large] = [d for d in limited.documents(job["id"]) if d["sourcePath"].endswith("large.txt")]
    assert large["error"]["innerError"]["code"] == "DocumentSizeExceeded"

    containers.upload({"third.txt": "three"})
    too_many = limited.wait(limited.start([containers.batch_input(target_folder="x")]))
    assert too_many["status"] == "ValidationFailed"
    assert too_many["error"]["innerError"]["code"] == "TooManyDocuments"


def test_cancel_running_job_cancels_documents_not_started(containers: Containers, start_emulator):
    server = start_emulator(document_seconds=0.4, workers=1, documents_in_parallel=1)
    slow = Api(server.endpoint, server.key)
    containers.upload({f"doc{number}.txt": f"text {number}" for number in range(6)})
    job_id = slow.start([containers.batch_input("rl", "wl")])
    deadline = time.monotonic() + 30
    while slow.job(job_id)["status"] != "Running":
        assert time.monotonic() < deadline, "the job never started running"
        time.sleep(0.02)

    response = slow.cancel(job_id)

    assert response.status_code == 200
    assert response.json()["status"] == "Cancelling"
    job = slow.wait(job_id)
    assert job["status"] == "Cancelled"
    assert job["summary"]["cancelled"] >= 1
    statuses = {document["status"] for document in slow.documents(job_id)}
    assert statuses <= {"Succeeded", "Cancelled"} and "Cancelled" in statuses
    translated = {blob.name for blob in containers.target.list_blobs()}
    assert len(translated) == job["summary"]["success"]


def test_a_jobs_documents_are_translated_side_by_side(containers: Containers, start_emulator):
    # As the service does: a batch of many files is not translated one document after another.
    server = start_emulator(document_seconds=1.0, workers=1, documents_in_parallel=4)
    api = Api(server.endpoint, server.key)
    containers.upload({f"side{number}.txt": f"text {number}" for number in range(8)})
    job_id = api.start([containers.batch_input("rl", "wl")])
    most_running = 0
    deadline = time.monotonic() + 60
    while api.job(job_id)["status"] in ("NotStarted", "Running"):
        assert time.monotonic() < deadline, "the job never ended"
        running = sum(1 for document in api.documents(job_id) if document["status"] == "Running")
        most_running = max(most_running, running)
        time.sleep(0.05)
    assert 2 <= most_running <= 4
    assert api.job(job_id)["summary"]["success"] == 8


def test_cancel_of_finished_job_is_refused(api: Api, containers: Containers):
    containers.upload({"a.txt": "Hello"})
    job_id = api.start([containers.batch_input("rl", "wl")])
    api.wait(job_id)

    response = api.cancel(job_id)

    assert response.status_code == 400
    assert response.json()["error"]["code"] == "InvalidRequest"
    assert api.cancel("00000000-0000-0000-0000-000000000000").status_code == 404


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (b"{not json", "InvalidRequestBody"),
        (b'{"inputs": []}', "InvalidRequestBody"),
        (
            b'{"inputs": [{"source": {"sourceUrl": "http://127.0.0.1:1/acct/src"}, "targets": []}]}',
            "InvalidRequestBody",
        ),
        (
            b'{"inputs": [{"targets": [{"targetUrl": "http://127.0.0.1:1/acct/t", "language": "fr"}]}]}',
            "InvalidRequestBody",
        ),
        (
            b'{"inputs": [{"source": {"sourceUrl": "http://127.0.0.1:1/acct/src"}, '
            b'"targets": [{"targetUrl": "http://127.0.0.1:1/acct/t"}]}]}',
            "InvalidLanguageCode",
        ),
    ],
)
def test_malformed_batches_are_refused(api: Api, body: bytes, reason: str):
    response = api.http.post(
        api.url("/batches"), params=api.params(), content=body, headers={"Content-Type": "application/json"}
    )

    assert response.status_code == 400
    assert response.json()["error"]["code"] == "InvalidRequest"
    assert response.json()["error"]["innerError"]["code"] == reason


def test_duplicate_target_urls_and_too_many_languages_are_refused(api: Api):
    source = {"sourceUrl": "http://127.0.0.1:1/acct/src"}
    duplicate = [
        {
            "source": source,
            "targets": [
                {"targetUrl": "http://127.0.0.1:1/acct/t?sig=a", "language": "fr"},
                {"targetUrl": "http://127.0.0.1:1/acct/t?sig=b", "language": "de"},
            ],
        }
    ]
    languages = ["fr", "de", "es", "it", "pt", "nl", "sv", "da", "fi", "pl", "cs"]
    eleven = [
        {
            "source": source,
            "targets": [
                {"targetUrl": f"http://127.0.0.1:1/acct/{language}", "language": language} for language in languages
            ],
        }
    ]

    duplicate_response = api.http.post(api.url("/batches"), params=api.params(), json={"inputs": duplicate})
    eleven_response = api.http.post(api.url("/batches"), params=api.params(), json={"inputs": eleven})

    assert duplicate_response.status_code == 400
    assert duplicate_response.json()["error"]["innerError"]["code"] == "DuplicateTargetUrl"
    assert eleven_response.status_code == 400
    assert eleven_response.json()["error"]["innerError"]["code"] == "TooManyTargetLanguages"
    assert api.follow("/batches") == []


def test_logs_never_carry_the_sas_signature(api: Api, containers: Containers, caplog):
    caplog.set_level(logging.DEBUG, logger="devstack.emulator")
    containers.upload({"a.txt": "Hello"})
    batch = containers.batch_input("rl", "r")  # fails validation: the error path logs too
    signatures = [
        parse_qs(url.split("?", 1)[1])["sig"][0]
        for url in (batch["source"]["sourceUrl"], batch["targets"][0]["targetUrl"])
    ]

    api.wait(api.start([batch]))
    api.wait(api.start([containers.batch_input()]))

    assert "devstack.emulator" in caplog.text
    for signature in signatures:
        assert signature not in caplog.text


def test_each_written_translation_is_announced_as_a_blob_created_event(containers: Containers, start_emulator):
    import json
    import threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    received: list[dict] = []

    class Webhook(BaseHTTPRequestHandler):
        def do_POST(self):
            received.extend(json.loads(self.rfile.read(int(self.headers["Content-Length"]))))
            self.send_response(202)
            self.end_headers()

        def log_message(self, *args):
            pass

    hook = ThreadingHTTPServer(("127.0.0.1", 0), Webhook)
    threading.Thread(target=hook.serve_forever, daemon=True).start()
    try:
        server = start_emulator(announce_writes_to=f"http://127.0.0.1:{hook.server_port}/runtime/webhooks/blobs")
        announcing = Api(server.endpoint, server.key)
        containers.upload({"a.txt": "Hello", "empty.txt": "   "})
        job = announcing.wait(announcing.start([containers.batch_input("rl", "wl", target_folder="out")]))
        assert job["status"] == "Succeeded"
        deadline = time.monotonic() + 30
        while not received and time.monotonic() < deadline:
            time.sleep(0.05)
    finally:
        hook.shutdown()

    target = containers.target.container_name
    # The one written translation is announced; the failed document wrote nothing, so nothing is.
    assert [event["subject"] for event in received] == [f"/blobServices/default/containers/{target}/blobs/out/a.txt"]
    [event] = received
    assert event["eventType"] == "Microsoft.Storage.BlobCreated" and event["data"]["api"] == "PutBlob"
    assert "?" not in event["data"]["url"]  # no SAS in an event
