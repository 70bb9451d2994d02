"""Fault injection, auth variants, formats, introspection routes and the command line."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import httpx
import pytest
from emulator_testkit import API_VERSIONS, Api, Containers

pytestmark = pytest.mark.integration

PROJECT_ROOT = Path(__file__).resolve().parents[3]


def test_rate_limit_answers_429_with_retry_after(start_emulator):
    server = start_emulator(rate_limit=2)
    api = Api(server.endpoint, server.key)

    statuses = [api.get("/batches") for _ in range(10)]

    limited = [response for response in statuses if response.status_code == 429]
    assert limited, "ten requests at once should exceed two per second"
    assert all(int(response.headers["Retry-After"]) >= 1 for response in limited)
    assert limited[0].json()["error"]["code"] == "RequestRateTooHigh"


def test_fault_rate_one_answers_every_request_with_a_server_error(start_emulator):
    server = start_emulator(fault_rate=1.0)
    api = Api(server.endpoint, server.key)

    responses = [api.get("/batches") for _ in range(20)]

    assert {response.status_code for response in responses} == {500, 503}
    for response in responses:
        assert response.json()["error"]["code"] in ("InternalServerError", "ServiceUnavailable")
        if response.status_code == 503:
            assert int(response.headers["Retry-After"]) >= 1
    assert server.stats()["batches"] == []


def test_faults_are_deterministic_for_a_seed(start_emulator):
    def sequence(seed: int) -> list[int]:
        server = start_emulator(fault_rate=0.5, seed=seed)
        api = Api(server.endpoint, server.key)
        return [api.get("/batches").status_code for _ in range(30)]

    first, again, other_seed = sequence(7), sequence(7), sequence(8)

    assert first == again
    assert 200 in first and set(first) - {200}
    assert first != other_seed


def test_bearer_token_is_accepted_when_configured(start_emulator):
    server = start_emulator(bearer_token="local-token")
    url = f"{server.endpoint}/translator/document/batches?api-version=2026-03-01"

    assert httpx.get(url, headers={"Authorization": "Bearer local-token"}).status_code == 200
    assert httpx.get(url, headers={"Authorization": "Bearer other"}).status_code == 401


def test_wrong_region_is_unauthorized(start_emulator):
    server = start_emulator(region="westeurope")
    url = f"{server.endpoint}/translator/text/batch/v1.1/batches"
    headers = {"Ocp-Apim-Subscription-Key": server.key}

    assert httpx.get(url, headers=headers | {"Ocp-Apim-Subscription-Region": "westeurope"}).status_code == 200
    assert httpx.get(url, headers=headers | {"Ocp-Apim-Subscription-Region": "eastus"}).status_code == 401


@pytest.mark.parametrize("api_version", API_VERSIONS)
def test_supported_formats_list_documents_and_glossaries(api_version: str, emulator, emulator_endpoint: str):
    api = Api(emulator_endpoint, emulator.key, api_version)
    if api.legacy:
        documents = api.get("/documents/formats").json()["value"]
        glossaries = api.get("/glossaries/formats").json()["value"]
    else:
        documents = api.get("/formats", {"type": "document"}).json()["value"]
        glossaries = api.get("/formats", {"type": "glossary"}).json()["value"]
        assert {item["type"] for item in documents} == {"Document"}
        assert api.get("/formats", {"type": "video"}).status_code == 400

    extensions = {extension for item in documents for extension in item["fileExtensions"]}
    assert {".txt", ".pdf", ".html", ".htm", ".md", ".csv", ".tsv", ".xlf", ".xliff", ".xml", ".docx"} <= extensions
    assert {item["format"] for item in glossaries} == {"XLIFF", "TSV", "CSV"}
    assert all(item["contentTypes"] for item in documents + glossaries)
    xliff = next(item for item in glossaries if item["format"] == "XLIFF")
    assert xliff["defaultVersion"] in xliff["versions"]


def test_stats_count_requests_and_list_batches_by_source(emulator, emulator_endpoint: str, containers: Containers):
    containers.upload({"a.txt": "Hello"})
    api = Api(emulator_endpoint, emulator.key)
    job_id = api.start([containers.batch_input()])
    api.wait(job_id)

    stats = httpx.get(f"{emulator_endpoint}/_emulator/stats", headers={"Ocp-Apim-Subscription-Key": emulator.key})

    body = stats.json()
    assert body == emulator.stats()
    assert body["requests"]["POST /batches"] == 1
    assert body["requests"]["GET /batches/{id}"] >= 1
    [batch] = body["batches"]
    assert batch["id"] == job_id and batch["status"] == "Succeeded"
    assert batch["sourceUrls"] == [f"{containers.blob_url}/{containers.source.container_name}"]
    assert httpx.get(f"{emulator_endpoint}/_emulator/stats").status_code == 401

    reset = httpx.post(f"{emulator_endpoint}/_emulator/reset", headers={"Ocp-Apim-Subscription-Key": emulator.key})

    assert reset.status_code == 204
    assert emulator.stats() == {"requests": {}, "faults": {}, "batches": []}
    assert api.get(f"/batches/{job_id}").status_code == 404


def test_command_line_serves_until_terminated(tmp_path: Path):
    process = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys; from devstack.emulator.cli import main; sys.exit(main(sys.argv[1:]))",
            "--port",
            "0",
            "--key",
            "cli-key",
            "--document-seconds",
            "0.01",
            # Its own jobs only: the default state dir holds whatever the developer's stack left there.
            "--state-dir",
            str(tmp_path / "emulator-state"),
        ],
        cwd=PROJECT_ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=os.environ | {"PYTHONPATH": str(PROJECT_ROOT)},
    )
    try:
        banner = process.stdout.readline().strip()
        assert banner.startswith("Document Translation emulator serving http://127.0.0.1:")
        assert banner.endswith("(flavours 2026-03-01, 2024-05-01, v1.1)")
        endpoint = banner.split()[4]
        response = httpx.get(
            f"{endpoint}/translator/text/batch/v1.1/batches",
            headers={"Ocp-Apim-Subscription-Key": "cli-key"},
            timeout=30,
        )
        assert response.status_code == 200 and response.json() == {"value": []}
    finally:
        process.send_signal(signal.SIGTERM)
        _out, errors = process.communicate(timeout=30)
    assert process.returncode == 0, errors
    assert "cli-key" not in errors
