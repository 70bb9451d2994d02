"""Helpers for the emulator's tests: containers in Azurite, SAS URLs, raw HTTP calls in each route flavour."""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from azure.storage.blob import BlobServiceClient, ContainerClient, generate_blob_sas, generate_container_sas

from devstack.azurite import ACCOUNT_KEY, ACCOUNT_NAME

FINAL_STATUSES = {"Succeeded", "Failed", "Cancelled", "ValidationFailed"}
API_VERSIONS = ("2026-03-01", "2024-05-01", "v1.1")


@dataclass(frozen=True)
class Containers:
    """A fresh source and target container pair, with SAS URL builders."""

    service: BlobServiceClient
    blob_url: str
    source: ContainerClient
    target: ContainerClient

    def container_url(self, container: ContainerClient, permission: str) -> str:
        sas = generate_container_sas(
            ACCOUNT_NAME,
            container.container_name,
            account_key=ACCOUNT_KEY,
            permission=permission,
            expiry=datetime.now(UTC) + timedelta(hours=1),
        )
        return f"{self.blob_url}/{container.container_name}?{sas}"

    def folder_url(self, container: ContainerClient, folder: str, permission: str) -> str:
        base, query = self.container_url(container, permission).split("?", 1)
        return f"{base}/{folder}?{query}"

    def blob_sas_url(self, container: ContainerClient, blob_name: str, permission: str) -> str:
        sas = generate_blob_sas(
            ACCOUNT_NAME,
            container.container_name,
            blob_name,
            account_key=ACCOUNT_KEY,
            permission=permission,
            expiry=datetime.now(UTC) + timedelta(hours=1),
        )
        return f"{self.blob_url}/{container.container_name}/{blob_name}?{sas}"

    def batch_input(
        self,
        source_permission: str = "rl",
        target_permission: str = "wl",
        target_folder: str | None = None,
        language: str = "fr",
    ) -> dict[str, Any]:
        """One Folder input: the whole source container into the target container (or a folder of it)."""
        target = (
            self.container_url(self.target, target_permission)
            if target_folder is None
            else self.folder_url(self.target, target_folder, target_permission)
        )
        return folder_input(self.container_url(self.source, source_permission), target, language)

    def upload(self, files: dict[str, bytes | str]) -> None:
        for name, content in files.items():
            self.source.upload_blob(name, content.encode() if isinstance(content, str) else content)

    def read_target(self, blob_name: str) -> str:
        return self.target.download_blob(blob_name).readall().decode("utf-8")


class Api:
    """Raw HTTP calls to one emulator in one route flavour, as a client would make them."""

    def __init__(self, endpoint: str, key: str, api_version: str = "2026-03-01"):
        self.endpoint = endpoint
        self.api_version = api_version
        self.http = httpx.Client(headers={"Ocp-Apim-Subscription-Key": key}, timeout=30)

    @property
    def legacy(self) -> bool:
        return self.api_version.startswith("v1")

    def url(self, path: str) -> str:
        if self.legacy:
            return f"{self.endpoint}/translator/text/batch/{self.api_version}{path}"
        return f"{self.endpoint}/translator/document{path}"

    def params(self, extra: Any = None) -> list[tuple[str, str]]:
        base = [] if self.legacy else [("api-version", self.api_version)]
        if isinstance(extra, dict):
            extra = list(extra.items())
        return base + list(extra or [])

    def get(self, path: str, params: Any = None) -> httpx.Response:
        return self.http.get(self.url(path), params=self.params(params))

    def start(self, inputs: list[dict[str, Any]]) -> str:
        response = self.http.post(self.url("/batches"), params=self.params(), json={"inputs": inputs})
        assert response.status_code == 202, response.text
        return response.headers["Operation-Location"].split("?")[0].rsplit("/", 1)[1]

    def cancel(self, job_id: str) -> httpx.Response:
        return self.http.delete(self.url(f"/batches/{job_id}"), params=self.params())

    def job(self, job_id: str) -> dict[str, Any]:
        response = self.get(f"/batches/{job_id}")
        assert response.status_code == 200, response.text
        return response.json()

    def wait(self, job_id: str, timeout: float = 60) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while True:
            job = self.job(job_id)
            if job["status"] in FINAL_STATUSES:
                return job
            if time.monotonic() > deadline:
                raise AssertionError(f"job {job_id} still {job['status']} after {timeout}s")
            time.sleep(0.05)

    def documents(self, job_id: str) -> list[dict[str, Any]]:
        return self.follow(f"/batches/{job_id}/documents")

    def follow(self, path: str, params: Any = None) -> list[dict[str, Any]]:
        """Every item of a list operation, following the next links to the end."""
        link_field = "@nextLink" if self.legacy else "nextLink"
        response = self.get(path, params)
        items: list[dict[str, Any]] = []
        while True:
            assert response.status_code == 200, response.text
            body = response.json()
            items.extend(body["value"])
            if not body.get(link_field):
                return items
            response = self.http.get(body[link_field])

    def close(self) -> None:
        self.http.close()


def folder_input(source_url: str, target_url: str, language: str = "fr", **extra: Any) -> dict[str, Any]:
    return {"source": {"sourceUrl": source_url}, "targets": [{"targetUrl": target_url, "language": language}], **extra}
