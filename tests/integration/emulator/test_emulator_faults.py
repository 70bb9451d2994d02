"""The faults the real service has, as the emulator produces them: lost answers, jobs listed late,
a restart that forgets nothing, unsupported languages, bad glossaries."""

from __future__ import annotations

import time

import httpx
import pytest
from emulator_testkit import Api, Containers

from devstack.emulator import EmulatorOptions, EmulatorServer
from shared.translator import DocumentTranslationClient, SubmissionUncertainError, TranslationInput, TranslationTarget

pytestmark = pytest.mark.integration


def target_file_url(containers: Containers, name: str) -> str:
    # One file as target: the URL names the file, the SAS is the container's (write + list).
    base, query = containers.container_url(containers.target, "wl").split("?", 1)
    return f"{base}/{name}?{query}"


def one_file_input(containers: Containers, language: str = "fr", name: str = "a.txt", **target: object) -> dict:
    return {
        "storageType": "File",
        "source": {"sourceUrl": containers.blob_sas_url(containers.source, name, "r")},
        "targets": [
            {
                "targetUrl": target_file_url(containers, f"{language}/{name}"),
                "language": language,
                **target,
            }
        ],
    }


def client_input(containers: Containers) -> TranslationInput:
    return TranslationInput(
        containers.blob_sas_url(containers.source, "a.txt", "r"),
        (TranslationTarget(target_file_url(containers, "fr/a.txt"), "fr"),),
        storage_type="File",
    )


@pytest.mark.parametrize("mode", ["500", "503", "reset"])
def test_a_lost_answer_leaves_the_job_created_and_the_caller_uncertain(start_emulator, containers, mode):
    server: EmulatorServer = start_emulator(key="k", lost_answer_rate=1.0, lost_answer_modes=(mode,))
    containers.upload({"a.txt": "Hello"})
    client = DocumentTranslationClient(server.endpoint, "k")
    with pytest.raises(SubmissionUncertainError):
        client.begin_translation([client_input(containers)])
    stats = server.stats()
    assert stats["faults"]["lost answer"] == 1
    [batch] = stats["batches"]
    assert batch["targetUrls"][0].endswith("/fr/a.txt")
    # The job exists and runs to its end: the translation is written.
    deadline = time.monotonic() + 20
    while not list(containers.target.list_blobs()) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert containers.read_target("fr/a.txt").startswith("[fr]")


def test_lost_answers_are_seeded_and_only_some(start_emulator, containers):
    server = start_emulator(key="k", lost_answer_rate=0.5, seed=3, document_seconds=0)
    containers.upload({"a.txt": "Hello"})
    api = Api(server.endpoint, "k")
    outcomes = []
    for index in range(20):
        job = one_file_input(containers)
        job["targets"][0]["targetUrl"] = target_file_url(containers, f"fr/{index}.txt")
        try:
            answer = api.http.post(api.url("/batches"), params=api.params(), json={"inputs": [job]})
            outcomes.append(answer.status_code)
        except httpx.RemoteProtocolError:
            outcomes.append("reset")
    assert 0 < outcomes.count(202) < 20
    assert {outcome for outcome in outcomes if outcome != 202} <= {500, 503, "reset"}
    assert len(server.stats()["batches"]) == 20  # every call made its job, answered or not


def test_a_new_job_is_listed_only_after_the_list_delay(start_emulator, containers):
    server = start_emulator(key="k", list_delay_seconds=1.5, document_seconds=0)
    containers.upload({"a.txt": "Hello"})
    api = Api(server.endpoint, "k")
    job_id = api.start([one_file_input(containers)])
    assert api.job(job_id)["id"] == job_id  # found by id at once
    assert [job["id"] for job in api.follow("/batches")] == []
    assert api.documents(job_id) == []
    time.sleep(1.6)
    assert [job["id"] for job in api.follow("/batches")] == [job_id]
    assert len(api.documents(job_id)) == 1


def test_a_restarted_emulator_remembers_its_jobs_and_finishes_them(containers, tmp_path):
    options = EmulatorOptions(key="k", state_dir=tmp_path / "state", document_seconds=1.0, workers=1)
    containers.upload({f"d{index}.txt": f"Document {index}" for index in range(3)})
    first = EmulatorServer.start(options)
    api = Api(first.endpoint, "k")
    job_ids = [api.start([one_file_input(containers, name=f"d{index}.txt")]) for index in range(3)]
    done = api.wait(job_ids[0])
    assert done["status"] == "Succeeded"
    time.sleep(0.5)  # the second job is in progress
    first.stop()

    second = EmulatorServer.start(options)
    api = Api(second.endpoint, "k")
    assert api.job(job_ids[0])["status"] == "Succeeded"  # never forgotten
    for job_id in job_ids:
        assert api.wait(job_id, timeout=30)["status"] == "Succeeded"
        [document] = api.documents(job_id)
        assert document["status"] == "Succeeded" and document["characterCharged"] > 0
    second.stop()


@pytest.mark.parametrize("language", ["xx-yy", "qqq", "zz"])
def test_an_unsupported_target_language_is_refused(api: Api, containers: Containers, language: str):
    containers.upload({"a.txt": "Hello"})
    response = api.http.post(
        api.url("/batches"), params=api.params(), json={"inputs": [one_file_input(containers, language=language)]}
    )
    assert response.status_code == 400
    error = response.json()["error"]
    assert (error["code"], error["innerError"]["code"]) == ("InvalidRequest", "InvalidTargetLanguage")
    assert language in error["message"]


def test_language_codes_are_matched_whatever_their_case(api: Api, containers: Containers):
    containers.upload({"a.txt": "Hello"})
    job_id = api.start([one_file_input(containers, language="ZH-hans")])
    assert api.wait(job_id)["status"] == "Succeeded"


def test_the_language_list_is_served_like_the_text_api(emulator_endpoint: str):
    response = httpx.get(
        f"{emulator_endpoint}/translator/text/v3.0/languages", params={"api-version": "3.0", "scope": "translation"}
    )
    assert response.status_code == 200  # no key needed
    languages = response.json()["translation"]
    assert {"fr", "de", "zh-Hans", "sr-Latn", "pt-PT", "tlh-Latn"} <= set(languages)
    assert languages["ar"]["dir"] == "rtl" and languages["fr"]["nativeName"] == "Français"


def test_the_client_reads_the_language_list(emulator, emulator_endpoint: str):
    client = DocumentTranslationClient(emulator_endpoint, emulator.key)
    languages = client.get_supported_languages()
    assert languages["zh-hans"] == "zh-Hans" and "xx-yy" not in languages


@pytest.mark.parametrize(
    ("name", "content", "fmt"),
    [
        ("binary.csv", bytes(range(256)) * 4, "CSV"),
        ("columns.tsv", "one\ttwo\tthree\n", "TSV"),
        ("empty.csv", "", "CSV"),
        ("broken.xlf", "<xliff><file><unit><segment><source>a</source>", "XLIFF"),
    ],
)
def test_a_bad_glossary_fails_its_languages_documents_with_a_glossary_error(api, containers, name, content, fmt):
    containers.upload({"a.txt": "Hello"})
    containers.target.upload_blob(name, content)
    glossary = {"glossaryUrl": containers.blob_sas_url(containers.target, name, "rl"), "format": fmt}
    job_id = api.start(
        [
            {
                "storageType": "File",
                "source": {"sourceUrl": containers.blob_sas_url(containers.source, "a.txt", "r")},
                "targets": [
                    {
                        "targetUrl": target_file_url(containers, "fr/a.txt"),
                        "language": "fr",
                        "glossaries": [glossary],
                    },
                    {"targetUrl": target_file_url(containers, "de/a.txt"), "language": "de"},
                ],
            }
        ]
    )
    job = api.wait(job_id)
    assert job["status"] == "Succeeded"  # the other language went through
    by_language = {document["to"]: document for document in api.documents(job_id)}
    assert by_language["de"]["status"] == "Succeeded"
    assert by_language["fr"]["status"] == "Failed"
    assert by_language["fr"]["error"]["innerError"]["code"] == "InvalidGlossary"
