"""What went wrong, told in one line with what to do about it, and an exit code per kind of failure.

The operator tool never shows a traceback: a person reads one line on stderr, a script reads the
exit code. The table of codes is in the README (## Operating it).
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from enum import IntEnum
from typing import Protocol

from azure.core.exceptions import (
    ClientAuthenticationError,
    HttpResponseError,
    ResourceNotFoundError,
    ServiceRequestError,
    ServiceResponseError,
)
from typer._click.exceptions import UsageError  # typer's own click, vendored

from shared.redaction import redact
from shared.settings import SettingsError
from shared.translator import TranslatorError
from shared.translator.errors import AuthenticationError, PermissionDeniedError, ServiceUnreachableError
from translation_ops.actions import ActionRefused, FileNotFound

logger = logging.getLogger(__name__)

PROGRAM = "translation-ops"
# Set to see the traceback of an unexpected error (one this table does not know).
DEBUG_VARIABLE = "TRANSLATION_OPS_DEBUG"


class ExitCode(IntEnum):
    OK = 0
    REFUSED = 1  # what was asked cannot be done now, or a watched file did not succeed
    USAGE = 2  # bad arguments or settings (click's code for a usage error)
    UNREACHABLE = 3  # storage (or the Translator) cannot be reached
    NOT_SIGNED_IN = 4  # no credential could get a token
    ACCESS_DENIED = 5  # storage or the Translator refused the credential (401, 403)
    NOT_FOUND = 6  # no such file, or the account lacks the table, container or queue
    TIMED_OUT = 7  # `watch --timeout` passed before every file had a final record
    SERVICE_ERROR = 8  # storage or the Translator answered with another error
    INTERNAL = 70  # a bug in the tool (EX_SOFTWARE)
    INTERRUPTED = 130  # Ctrl-C


@dataclass(frozen=True)
class Failure:
    code: ExitCode
    what: str  # what happened
    todo: str  # what to do

    def line(self) -> str:
        return redact(f"{PROGRAM}: {_one_line(self.what).rstrip('.')}; {_one_line(self.todo)}")


class OperatorFailure(Exception):
    """Raised by a command for a failure it recognised itself."""

    def __init__(self, failure: Failure):
        super().__init__(failure.line())
        self.failure = failure


class StorageTarget(Protocol):
    """What the tool was pointed at, to name it in a message."""

    @property
    def storage_name(self) -> str: ...

    @property
    def unreachable_advice(self) -> str: ...

    @property
    def denied_advice(self) -> str: ...


def failure_of(error: BaseException, target: StorageTarget) -> Failure:
    """The failure a person is told about for `error`, raised while talking to `target`."""
    if isinstance(error, OperatorFailure):
        return error.failure
    if isinstance(error, KeyboardInterrupt):
        return Failure(ExitCode.INTERRUPTED, "interrupted", "nothing was left half done that the next run cannot see")
    if isinstance(error, UsageError):
        command = error.ctx.command_path if error.ctx is not None else PROGRAM
        return Failure(ExitCode.USAGE, error.format_message(), f"see `{command} --help`")
    if isinstance(error, ActionRefused):
        return Failure(
            ExitCode.NOT_FOUND if isinstance(error, FileNotFound) else ExitCode.REFUSED, str(error), error.todo
        )
    if isinstance(error, SettingsError):
        return Failure(ExitCode.USAGE, f"impossible settings: {error}", "fix local.settings.json or the environment")
    if isinstance(error, TranslatorError):
        return _translator_failure(error)
    if isinstance(error, ClientAuthenticationError) and error.response is None:
        # No token (CredentialUnavailableError is one of these): nobody is signed in.
        return Failure(
            ExitCode.NOT_SIGNED_IN,
            f"not signed in to Azure: no credential could get a token for {target.storage_name}",
            "run `az login` (or set AZURE_CLIENT_ID, AZURE_TENANT_ID and AZURE_CLIENT_SECRET), then try again",
        )
    if isinstance(error, HttpResponseError) and error.status_code in (401, 403):
        return Failure(
            ExitCode.ACCESS_DENIED,
            f"{target.storage_name} refused access ({_status(error)})",
            target.denied_advice,
        )
    if isinstance(error, ResourceNotFoundError):
        return Failure(
            ExitCode.NOT_FOUND,
            f"{target.storage_name} has no such table, container or queue ({_status(error)})",
            "check that this is the documents account; locally, `make up` creates them",
        )
    if isinstance(error, ServiceRequestError | ServiceResponseError):
        return Failure(
            ExitCode.UNREACHABLE,
            f"{target.storage_name} is unreachable ({_connection_cause(error)})",
            target.unreachable_advice,
        )
    if isinstance(error, HttpResponseError):
        return Failure(
            ExitCode.SERVICE_ERROR,
            f"{target.storage_name} answered with an error ({_status(error)})",
            "try again in a minute; if it persists, check the account's health in the Azure portal",
        )
    return Failure(
        ExitCode.INTERNAL,
        f"unexpected {type(error).__name__}: {error}",
        f"this is a bug: run again with {DEBUG_VARIABLE}=1 for the traceback and report it",
    )


def _translator_failure(error: TranslatorError) -> Failure:
    if isinstance(error, ServiceUnreachableError):
        return Failure(
            ExitCode.UNREACHABLE,
            f"the Translator is unreachable ({error})",
            "check --translator-endpoint (or TRANSLATOR_ENDPOINT) and your network",
        )
    if isinstance(error, AuthenticationError | PermissionDeniedError):
        return Failure(
            ExitCode.ACCESS_DENIED,
            f"the Translator refused access ({error})",
            "you need the Cognitive Services User role on the Translator (`az login` as that user)",
        )
    return Failure(
        ExitCode.SERVICE_ERROR,
        f"the Translator answered with an error ({error})",
        "try again in a minute; the request id above is what a support case needs",
    )


def _status(error: HttpResponseError) -> str:
    code = getattr(error, "error_code", None)  # storage's: a StorageErrorCode, whose value is the wire name
    parts = [str(error.status_code) if error.status_code is not None else None, getattr(code, "value", code)]
    return " ".join(str(part) for part in parts if part) or type(error).__name__


# What the connection error says, in the words of urllib3 and the socket layer.
_CAUSES = (
    ("connection refused", re.compile(r"refused", re.IGNORECASE)),
    (
        "its name does not resolve",
        re.compile(r"name or service not known|nodename nor servname|getaddrinfo|name resolution", re.IGNORECASE),
    ),
    ("no answer in time", re.compile(r"timed? ?out", re.IGNORECASE)),
    ("the network is unreachable", re.compile(r"network is unreachable|no route to host", re.IGNORECASE)),
    ("the connection was cut", re.compile(r"reset|aborted|broken pipe|remote end closed", re.IGNORECASE)),
)


def _connection_cause(error: BaseException) -> str:
    text = str(error)
    for cause, pattern in _CAUSES:
        if pattern.search(text):
            return cause
    return "cannot connect"


def _one_line(text: str) -> str:
    return " ".join(text.split())
