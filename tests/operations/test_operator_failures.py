"""`translation-ops` when things go wrong: storage out of reach, nobody signed in, access refused,
no such file, bad arguments. Each ends in one line on stderr and its own exit code, never a traceback."""

from __future__ import annotations

import http.server
import json
import socket
import threading
import time
from collections.abc import Iterator

import pytest
from azure.core.exceptions import ClientAuthenticationError
from azure.identity import CredentialUnavailableError
from typer.testing import CliRunner

from tests.pipeline.conftest import upload
from translation_ops import cli
from translation_ops.failures import ExitCode

ACCOUNT_KEY = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="
# However slow the machine, far below the minute and a half the tool used to hang.
GENEROUS_SECONDS = 30


def connection_string(port: int, key: str = ACCOUNT_KEY) -> str:
    endpoints = ";".join(
        f"{service}Endpoint=http://127.0.0.1:{port}/devstoreaccount1" for service in ("Blob", "Queue", "Table")
    )
    return f"DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;AccountKey={key};{endpoints};"


def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def invoke(*args: str):
    """`translation-ops ARGS...` as a person runs it: its own settings, its own storage clients."""
    return CliRunner().invoke(cli.app, list(args))


def assert_one_line(result, code: ExitCode, *words: str) -> str:
    assert result.exit_code == code, (result.exit_code, result.output, result.exception)
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("translation-ops: "), result.stderr
    assert "Traceback" not in result.output and ACCOUNT_KEY not in result.output
    for word in words:
        assert word in lines[0], (word, lines[0])
    return lines[0]


@pytest.fixture
def unreachable_storage(monkeypatch) -> None:
    monkeypatch.setenv("TRANSLATION_STORAGE", connection_string(closed_port()))


@pytest.mark.parametrize(
    "args",
    [
        ("status",),
        ("status", "--json"),
        ("show", "a.txt"),
        ("watch", "a.txt"),
        ("retry", "a.txt"),
        ("retry", "--failed"),
        ("cancel", "a.txt"),
        ("redrive",),
    ],
)
def test_storage_out_of_reach_is_one_line_and_exit_3(unreachable_storage, args):
    started = time.monotonic()
    result = invoke(*args)
    assert time.monotonic() - started < GENEROUS_SECONDS
    assert_one_line(result, ExitCode.UNREACHABLE, "unreachable", "connection refused", "make up")
    assert result.stdout == ""


class BusyStorage(http.server.BaseHTTPRequestHandler):
    """Answers every request 503 ServerBusy, counting them."""

    requests = 0

    def _busy(self) -> None:
        type(self).requests += 1
        self.send_response(503)
        self.send_header("x-ms-error-code", "ServerBusy")
        self.send_header("Content-Length", "0")
        self.end_headers()

    do_GET = do_HEAD = do_PUT = do_POST = do_DELETE = _busy

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def busy_storage(monkeypatch) -> Iterator[type[BusyStorage]]:
    BusyStorage.requests = 0
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), BusyStorage)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    monkeypatch.setenv("TRANSLATION_STORAGE", connection_string(server.server_address[1]))
    try:
        yield BusyStorage
    finally:
        server.shutdown()
        server.server_close()


def test_busy_storage_is_asked_twice_then_told_in_one_line_with_exit_8(busy_storage):
    result = invoke("show", "a.txt")
    assert_one_line(result, ExitCode.SERVICE_ERROR, "503 ServerBusy", "try again")
    assert busy_storage.requests == 2  # one call, retried once (the app's clients try 4 times)


class NoLogin:
    """DefaultAzureCredential on a machine where nobody ran `az login`."""

    error: type[Exception] = CredentialUnavailableError

    def __init__(self, **_kwargs: object):
        pass

    def get_token(self, *_scopes: str, **_kwargs: object):
        raise self.error("DefaultAzureCredential failed to retrieve a token from the included credentials")

    get_token_info = get_token


@pytest.mark.parametrize("error", [CredentialUnavailableError, ClientAuthenticationError])
@pytest.mark.parametrize("args", [("status",), ("show", "a.txt"), ("redrive",)])
def test_account_without_a_login_says_run_az_login_with_exit_4(monkeypatch, error, args):
    monkeypatch.setattr(NoLogin, "error", error)
    monkeypatch.setattr("azure.identity.DefaultAzureCredential", NoLogin)
    result = invoke("--account", "docsaccount", *args)
    assert_one_line(result, ExitCode.NOT_SIGNED_IN, "not signed in", "storage account docsaccount", "`az login`")


@pytest.mark.integration
def test_a_wrong_account_key_is_access_denied_with_exit_5(azurite, monkeypatch):
    wrong_key = "d3Jvbmcta2V5LXdyb25nLWtleS13cm9uZy1rZXktd3Jvbmcta2V5LXdyb25nLWtleQ=="
    monkeypatch.setenv("TRANSLATION_STORAGE", azurite.connection_string.replace(ACCOUNT_KEY, wrong_key))
    result = invoke("status")
    assert_one_line(result, ExitCode.ACCESS_DENIED, "refused access", "403", "account key")
    assert wrong_key not in result.output


@pytest.mark.integration
def test_storage_without_the_records_table_is_not_found_with_exit_6(azurite, monkeypatch):
    monkeypatch.setenv("TRANSLATION_STORAGE", azurite.connection_string)
    monkeypatch.setenv("RECORDS_TABLE", "nosuchtable")
    assert_one_line(invoke("status"), ExitCode.NOT_FOUND, "no such table", "make up")


@pytest.mark.integration
def test_show_has_one_json_shape_for_known_and_unknown_files(ctx, run_split):
    upload(ctx, "known.txt", b"Hello")
    known = run_split("show", "known.txt", "--json")
    assert known.exit_code == 0
    unknown = run_split("show", "unknown.txt", "--json")
    assert_one_line(unknown, ExitCode.NOT_FOUND, f"{ctx.settings.source_container}/unknown.txt", "no such file")
    known_json, unknown_json = json.loads(known.stdout), json.loads(unknown.stdout)
    assert known_json.keys() == unknown_json.keys()
    assert (known_json["found"], unknown_json["found"]) == (True, False)
    assert unknown_json["current_version"] is None and unknown_json["recorded"] == []


@pytest.mark.integration
@pytest.mark.parametrize(
    "args", [("show", "gone.txt"), ("watch", "gone.txt"), ("retry", "gone.txt"), ("cancel", "gone.txt")]
)
def test_a_file_that_does_not_exist_is_exit_6(ctx, run_split, args):
    assert_one_line(run_split(*args), ExitCode.NOT_FOUND, "gone.txt", "`status`")


@pytest.mark.integration
def test_watch_that_times_out_is_exit_7(ctx, run_split):
    from shared.pipeline.submit import submit_dropped_blob

    submit_dropped_blob(upload(ctx, "slow.txt", b"Hello"), ctx)
    assert_one_line(run_split("watch", "slow.txt", "--timeout", "0"), ExitCode.TIMED_OUT, "no final record")


@pytest.mark.parametrize(
    "args",
    [
        ("show", ""),
        ("show", "source/"),
        ("watch", "letters/"),
        ("cancel", " "),
        ("status", "--since", "99999999999d"),
        ("status", "--since", "0m"),
        ("status", "--since", "-5m"),
        ("status", "--since", "nanh"),
        ("retry", "--failed", "--since", "1w"),
        ("retry",),
        ("redrive", "--dead-letter-container", "BAD_NAME!"),
        ("redrive", "--dead-letter-container", "a--b"),
        ("--account", "Not_An_Account", "status"),
        ("--translator-endpoint", "cognitive", "cancel", "a.txt"),
        ("nosuchcommand",),
    ],
)
def test_bad_arguments_are_one_line_and_exit_2_before_storage_is_asked(unreachable_storage, monkeypatch, args):
    monkeypatch.setattr("azure.identity.DefaultAzureCredential", NoLogin)
    assert_one_line(invoke(*args), ExitCode.USAGE, "--help")
