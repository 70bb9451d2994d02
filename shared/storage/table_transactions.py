"""Table Storage transactions (an OData `$batch` of one change set): up to 100 inserts, replaces,
merges, upserts and deletes on one partition, applied all or none, encoded and decoded here.

Why not `TableClient.submit_transaction` on the hot path: azure-core builds and parses the multipart
body with the standard library's `email` package, which costs about 85% of the CPU of a
100-operation transaction (0.8 s for 1,000 changed records on Azurite). The format itself is small
and fixed (Table service REST reference, "Performing entity group transactions"), so it is written
out below. The request still goes through the table client's own pipeline, so authentication
(account key, SAS or Entra ID), retries and logging are the SDK's.

That pipeline is reached through `TableClient._client.send_request`, which is not public API. When a
release of azure-data-tables no longer has it, `send_changes` says so once in the log and uses the
public `submit_transaction` instead: slower, never broken. `tests/integration/storage/
test_table_transactions.py` fails when the private path disappears, so CI says so first.
"""

from __future__ import annotations

import json
import logging
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any
from urllib.parse import quote

from azure.core import MatchConditions
from azure.core.exceptions import HttpResponseError, ServiceResponseError
from azure.core.rest import HttpRequest, HttpResponse
from azure.data.tables import EdmType, EntityProperty, TableClient, TableTransactionError, UpdateMode

logger = logging.getLogger(__name__)

# The service refuses a transaction whose payload is larger (Performing entity group transactions).
MAX_TRANSACTION_BYTES = 4 * 1024 * 1024
# ... or one with more operations, all of which must be on one partition.
MAX_TRANSACTION_OPERATIONS = 100
# A plain integer property is an Edm.Int32.
_INT32 = range(-(2**31), 2**31)
_CRLF = "\r\n"


class Op(StrEnum):
    INSERT = "insert"  # fails if the entity exists
    REPLACE = "replace"  # fails if it changed since `etag` was read (or, without one, if it is gone)
    MERGE = "merge"  # the given properties only; the same condition as REPLACE
    UPSERT = "upsert"  # insert or replace, unconditionally
    UPSERT_MERGE = "upsert-merge"  # insert or merge, unconditionally
    DELETE = "delete"  # fails if it changed since `etag` was read (or, without one, if it is gone)


@dataclass(frozen=True)
class Change:
    op: Op
    entity: Mapping[str, Any]  # for DELETE only PartitionKey and RowKey are read
    etag: str | None = None  # If-Match for REPLACE, MERGE and DELETE; None: `*`

    @property
    def partition(self) -> str:
        return str(self.entity["PartitionKey"])

    @property
    def row(self) -> str:
        return str(self.entity["RowKey"])


class TransactionTooLarge(ValueError):
    """The changes do not fit one transaction's payload: send fewer at a time."""


class TransactionRefused(Exception):
    """The service applied none of the transaction's operations (a precondition or a value failed);
    `index` is the operation it names."""

    def __init__(self, status: int, index: int | None, message: str):
        super().__init__(f"transaction refused: {status} at operation {index}: {message}")
        self.status = status
        self.index = index


Send = Callable[[HttpRequest], HttpResponse]
_warned_fallback = False


def send_changes(table: TableClient, changes: Sequence[Change]) -> list[str]:
    """Applies every change, all or none, in one request (at most 100, one partition). Returns the new
    ETag of each change in order ('' for a delete); raises `TransactionRefused` when one of them
    cannot apply (then nothing was written), and `TransactionTooLarge`, without sending, when they
    make more than 4 MiB."""
    if not changes:
        return []
    if len(changes) > MAX_TRANSACTION_OPERATIONS:
        raise ValueError(f"{len(changes)} changes; a transaction holds at most {MAX_TRANSACTION_OPERATIONS}")
    if len({change.partition for change in changes}) > 1:
        raise ValueError("a transaction's changes must all be on one partition")
    send = private_send(table)
    if send is None:
        return _send_with_sdk(table, changes)
    body, boundary = encode(table, changes)
    request = HttpRequest(
        "POST",
        f"{table.url.rstrip('/')}/$batch",
        headers={
            "x-ms-version": table.api_version,
            "DataServiceVersion": "3.0",
            "MaxDataServiceVersion": "3.0;NetFx",
            "Content-Type": f"multipart/mixed; boundary={boundary}",
            "Accept": "application/json",
        },
        content=body,
    )
    response = send(request)
    try:
        answer = response.read().decode("utf-8", errors="replace")
    except Exception as exc:  # the answer was cut off: the transaction may have been applied
        raise ServiceResponseError(f"the transaction's answer was cut off: {exc}") from exc
    if response.status_code != 202:
        raise HttpResponseError(response=response)
    statuses = _parse_batch_response(response.headers.get("Content-Type", ""), answer)
    refused = [(index, status, text) for index, (status, _, text) in enumerate(statuses) if not 200 <= status < 300]
    if refused:
        index, status, text = refused[0]
        raise TransactionRefused(status, _failed_index(text, index), text)
    if len(statuses) != len(changes):
        raise HttpResponseError(f"transaction answered {len(statuses)} operations of {len(changes)}")
    return [etag for _, etag, _ in statuses]


def private_send(table: TableClient) -> Send | None:
    """The table client's own pipeline (credential, retries, logging), or None when this release of
    azure-data-tables no longer exposes it. The SDK sends its own transactions through this call,
    streamed so that no policy tries to decode the multipart answer."""
    global _warned_fallback
    send = getattr(getattr(table, "_client", None), "send_request", None)
    if callable(send):
        return lambda request: send(request, stream=True)
    if not _warned_fallback:
        logger.warning(
            "azure-data-tables has no TableClient._client.send_request any more: table transactions go "
            "through the slower public submit_transaction (pin the release requirements.txt names)"
        )
        _warned_fallback = True
    return None


def encode(table: TableClient, changes: Sequence[Change]) -> tuple[bytes, str]:
    """The `$batch` body of one change set, and its boundary; raises TransactionTooLarge."""
    changeset = f"changeset_{uuid.uuid4()}"
    batch = f"batch_{uuid.uuid4()}"
    table_url = f"{table.url.rstrip('/')}/{quote(table.table_name)}"
    parts = [_part(table_url, change) for change in changes]
    body = (
        f"--{batch}{_CRLF}Content-Type: multipart/mixed; boundary={changeset}{_CRLF}{_CRLF}"
        + "".join(f"--{changeset}{_CRLF}{part}" for part in parts)
        + f"--{changeset}--{_CRLF}--{batch}--{_CRLF}"
    ).encode()
    if len(body) > MAX_TRANSACTION_BYTES:
        raise TransactionTooLarge(f"{len(changes)} changes make {len(body):,} bytes; at most {MAX_TRANSACTION_BYTES:,}")
    return body, batch


def _part(table_url: str, change: Change) -> str:
    entity_url = f"{table_url}(PartitionKey='{_key(change.partition)}',RowKey='{_key(change.row)}')"
    if change.op is Op.INSERT:
        head = f"POST {table_url} HTTP/1.1{_CRLF}Prefer: return-no-content{_CRLF}"
    elif change.op in (Op.REPLACE, Op.UPSERT):
        head = f"PUT {entity_url} HTTP/1.1{_CRLF}"
    elif change.op in (Op.MERGE, Op.UPSERT_MERGE):
        head = f"PATCH {entity_url} HTTP/1.1{_CRLF}"
    else:
        head = f"DELETE {entity_url} HTTP/1.1{_CRLF}"
    if change.op in (Op.REPLACE, Op.MERGE, Op.DELETE):
        head += f"If-Match: {change.etag or '*'}{_CRLF}"
    head = (
        f"Content-Type: application/http{_CRLF}Content-Transfer-Encoding: binary{_CRLF}{_CRLF}"
        + head
        + f"Accept: application/json;odata=minimalmetadata{_CRLF}DataServiceVersion: 3.0{_CRLF}"
    )
    if change.op is Op.DELETE:
        return head + _CRLF
    body = json.dumps(edm_json(change.entity), ensure_ascii=False, separators=(",", ":"))
    return head + f"Content-Type: application/json{_CRLF}{_CRLF}{body}{_CRLF}"


def _key(value: str) -> str:
    return quote(value.replace("'", "''"), safe="")


def _send_with_sdk(table: TableClient, changes: Sequence[Change]) -> list[str]:
    operations: list[Any] = []
    for change in changes:
        entity = dict(change.entity)
        condition = {
            "etag": change.etag,
            "match_condition": MatchConditions.IfNotModified if change.etag else MatchConditions.Unconditionally,
        }
        if change.op is Op.INSERT:
            operations.append(("create", entity))
        elif change.op is Op.REPLACE:
            operations.append(("update", entity, {"mode": UpdateMode.REPLACE, **condition}))
        elif change.op is Op.MERGE:
            operations.append(("update", entity, {"mode": UpdateMode.MERGE, **condition}))
        elif change.op is Op.UPSERT:
            operations.append(("upsert", entity, {"mode": UpdateMode.REPLACE}))
        elif change.op is Op.UPSERT_MERGE:
            operations.append(("upsert", entity, {"mode": UpdateMode.MERGE}))
        else:
            operations.append(("delete", entity, condition))
    try:
        answers = table.submit_transaction(operations)
    except TableTransactionError as exc:
        raise TransactionRefused(int(exc.status_code or 400), exc.index, str(exc.message)) from exc
    return [str(answer.get("etag") or "") for answer in answers]


def edm_json(entity: Mapping[str, Any]) -> dict[str, Any]:
    """An entity's JSON with the type annotations the SDK sends for the same values (datetimes in
    UTC as Edm.DateTime, floats as Edm.Double, `EntityProperty` with its own type), so what this
    module writes reads back exactly as what the SDK writes."""
    properties: dict[str, Any] = {}
    for name, value in entity.items():
        edm_type: str | None = None
        if isinstance(value, EntityProperty):
            value, edm_type = value.value, str(EdmType(value.edm_type).value)
            if edm_type == EdmType.INT64.value:
                value = str(int(value))
        if value is None:
            continue
        if isinstance(value, datetime):
            moment = value.astimezone(UTC) if value.tzinfo else value
            edm_type, value = EdmType.DATETIME.value, moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
        elif isinstance(value, float):
            edm_type = EdmType.DOUBLE.value
        elif isinstance(value, int) and not isinstance(value, bool) and value not in _INT32:
            raise TypeError(f"property {name}: {value} does not fit Edm.Int32; pass an Edm.Int64 EntityProperty")
        elif not isinstance(value, bool | int | str):
            raise TypeError(f"property {name}: no Table type for {type(value).__name__}")
        properties[name] = value
        if edm_type:
            properties[f"{name}@odata.type"] = edm_type
    return properties


def _parse_batch_response(content_type: str, body: str) -> list[tuple[int, str, str]]:
    """(status, ETag, body) of each operation, in order, from a `$batch` answer: a multipart body
    holding one change set (itself multipart), or a single answer when the whole batch failed."""
    answers: list[tuple[int, str, str]] = []
    for headers, content in _multipart(content_type, body):
        inner_type = headers.get("content-type", "")
        if inner_type.startswith("multipart/mixed"):
            answers.extend(_parse_batch_response(inner_type, content))
        else:
            answers.append(_parse_http_answer(content))
    return answers


def _multipart(content_type: str, body: str) -> list[tuple[dict[str, str], str]]:
    """The parts of a multipart body as (lower-cased MIME headers, content)."""
    boundary = content_type.partition("boundary=")[2].split(";", 1)[0].strip().strip('"')
    if not boundary:
        raise HttpResponseError(f"a transaction answer without a multipart boundary: {content_type!r}")
    parts = []
    # Everything before the first delimiter is preamble; the closing delimiter ends with "--".
    for chunk in body.split(f"--{boundary}")[1:]:
        if chunk.startswith("--"):
            break
        head, _, content = chunk.removeprefix(_CRLF).partition(_CRLF + _CRLF)
        parts.append((_headers(head), content.removesuffix(_CRLF)))
    return parts


def _parse_http_answer(message: str) -> tuple[int, str, str]:
    status_line, _, rest = message.partition(_CRLF)
    head, _, body = rest.partition(_CRLF + _CRLF)
    # "HTTP/1.1 204 No Content"
    return int(status_line.split(" ", 2)[1]), _headers(head).get("etag", ""), body.strip()


def _headers(head: str) -> dict[str, str]:
    headers = {}
    for line in head.split(_CRLF):
        name, separator, value = line.partition(":")
        if separator:
            headers[name.strip().lower()] = value.strip()
    return headers


def _failed_index(body: str, fallback: int) -> int | None:
    """The service names the failing operation at the start of its message: "99:The update
    condition specified in the request was not satisfied."."""
    try:
        message = json.loads(body)["odata.error"]["message"]["value"]
        return int(message.split(":", 1)[0])
    except (ValueError, KeyError, TypeError):
        return fallback
