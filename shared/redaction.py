"""Masking of secrets: SAS signatures, account and subscription keys, bearer tokens, function keys.

Everything that may reach a log line, an exception message or a repr goes through `redact`
or `redact_url` first. The mask keeps the name of what was hidden (`sig=***`) so an operator
still sees which kind of credential a URL carried. Values are masked where they appear as
values (a `sig=` in a query string, a key in a header or connection string, a secret this
process was configured with); a file that is merely *named* `sig=x.txt` keeps its name.

Log records are masked when they are created (`install_log_redaction` wraps the record
factory), so every handler gets masked text, however late it was added. The same step escapes
control characters (`\n` -> `\\n`, `\x01` -> `\\x01`) in the message, the exception's message and
every string field passed as `extra`: a file's name is the user's text, and one with a line break
must not write a second, forged log line into a console, a file or Application Insights.
"""

from __future__ import annotations

import logging
import re
import threading
import traceback
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit, urlunsplit

MASK = "***"
# A configured secret shorter than this is not masked by value: too likely to occur by chance.
MIN_REGISTERED_SECRET_LENGTH = 8

# Query parameters whose value is a secret. SAS fields other than `sig` (sv, se, sp, sr...)
# say what the token allows and until when, which is what an operator needs to debug access.
SECRET_QUERY_PARAMS = frozenset(
    {
        "sig",
        "code",
        "subscription-key",
        "ocp-apim-subscription-key",
        "access_token",
        "api-key",
        "apikey",
        "key",
        "token",
        "client_secret",
        "password",
    }
)

# A query parameter starts the text, or follows `?`, `&` or `;` (never `/`, a space or a letter:
# that is a path or a sentence, e.g. a file named `sig=x.txt`).
_QUERY_START = r"(?:^|(?<=[?&;]))"
_VALUE = r"(?!\*\*\*)[^&\s\"'<>;#]+"


def _alternatives(names: frozenset[str]) -> str:
    # Longest first, so `subscription-key` is not read as `key`.
    return "(?:" + "|".join(re.escape(name) for name in sorted(names, key=len, reverse=True)) + ")"


_SECRET_NAMES = _alternatives(SECRET_QUERY_PARAMS)
# In a printed dict, `key` is the app's own record key (not a secret) far more often than a credential.
_DICT_SECRET_NAMES = _alternatives(SECRET_QUERY_PARAMS - {"key"})

# (pattern, replacement) applied in order; each keeps the name and masks the value.
_PATTERNS: tuple[tuple[re.Pattern[str], str], ...] = (
    # A whole SAS in a connection string; runs before `sig=` so the value is masked up to `;`.
    (re.compile(r"(SharedAccessSignature=)[^;\s\"'<>]+", re.IGNORECASE), r"\1" + MASK),
    (re.compile(r"(AccountKey=)[^;\s\"'<>]+", re.IGNORECASE), r"\1" + MASK),
    # A query parameter named in SECRET_QUERY_PARAMS, in a URL inside any text (`$` as OData spells some).
    (re.compile(_QUERY_START + r"(\$?" + _SECRET_NAMES + r"=)" + _VALUE, re.IGNORECASE), r"\1" + MASK),
    # Query dicts printed by a library: {'sig': 'value'}.
    (re.compile(r"(['\"]" + _DICT_SECRET_NAMES + r"['\"]\s*:\s*['\"])(?!\*\*\*)[^'\"]+", re.IGNORECASE), r"\1" + MASK),
    # Header forms: "Ocp-Apim-Subscription-Key: v", "...Key=v", and dict reprs "'...Key': 'v'".
    (
        re.compile(r"(Ocp-Apim-Subscription-Key['\"]?\s*[:=]\s*['\"]?)(?!\*\*\*)[^\s,;'\"&}\]]+", re.IGNORECASE),
        r"\1" + MASK,
    ),
    (re.compile(r"(Bearer\s+)(?!\*\*\*)[A-Za-z0-9\-._~+/]+=*", re.IGNORECASE), r"\1" + MASK),
)

# What could end a log line or hide a character from the reader: C0 controls, DEL, C1's NEL and
# the Unicode line and paragraph separators (which some viewers break lines at).
_CONTROL_CHARACTERS = re.compile("[\x00-\x1f\x7f\x85\u2028\u2029]")
_NAMED_ESCAPES = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}

_registered: set[str] = set()
_registered_pattern: re.Pattern[str] | None = None
_registered_lock = threading.Lock()


def register_secret(value: str | None) -> None:
    """Masks every literal occurrence of `value` from now on (a configured key, an account key)."""
    global _registered_pattern
    if not value or len(value) < MIN_REGISTERED_SECRET_LENGTH:
        return
    with _registered_lock:
        if value in _registered:
            return
        _registered.add(value)
        # Longest first, so a secret that contains another is masked whole.
        alternatives = sorted(_registered, key=len, reverse=True)
        _registered_pattern = re.compile("|".join(re.escape(secret) for secret in alternatives))


def redact(text: str) -> str:
    """`text` with every secret value it contains replaced by `***`."""
    if not text:
        return text
    registered = _registered_pattern
    if registered is not None:
        text = registered.sub(MASK, text)
    for pattern, replacement in _PATTERNS:
        text = pattern.sub(replacement, text)
    return text


def escape_control_characters(text: str) -> str:
    """`text` on one line, each control character spelled as Python would (`\\n`, `\\x01`, `\\u2028`)."""
    return _CONTROL_CHARACTERS.sub(_spelled, text)


def _spelled(match: re.Match[str]) -> str:
    character = match.group()
    named = _NAMED_ESCAPES.get(character)
    if named is not None:
        return named
    code = ord(character)
    return f"\\x{code:02x}" if code <= 0xFF else f"\\u{code:04x}"


def log_safe(text: str) -> str:
    """`text` as it may appear in a log line: secrets masked, on one line."""
    return escape_control_characters(redact(text))


def redact_url(url: str) -> str:
    """The same URL with secret query values masked (`...?sv=2024-08-04&sig=***`), safe to log."""
    if not url:
        return url
    try:
        parts = urlsplit(url)
    except ValueError:
        return redact(url)
    if parts.query:
        # Split by hand rather than parse/re-encode, so the rest of the URL stays byte for byte.
        masked = []
        for field in parts.query.split("&"):
            name, sep, _value = field.partition("=")
            if sep and name.lower().lstrip("$") in SECRET_QUERY_PARAMS:
                masked.append(f"{name}={MASK}")
            else:
                masked.append(field)
        parts = parts._replace(query="&".join(masked))
    if "@" in parts.netloc:
        # user:password@host
        parts = parts._replace(netloc=MASK + "@" + parts.netloc.rsplit("@", 1)[1])
    return redact(urlunsplit(parts))


def strip_query(url: str) -> str:
    """`url` without its query string and fragment (compares blob URLs whatever SAS they carry)."""
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc, parts.path, "", ""))


# The attributes every record has; any other was passed as `extra` (or set by a handler).
_RECORD_ATTRIBUTES = frozenset(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {"message", "asctime"}


def redact_record(record: logging.LogRecord) -> logging.LogRecord:
    """Formats the record's message with its args, masks secrets in it and puts it on one line, and
    does the same for its exception and stack text (a handler would otherwise render those from
    `exc_info` later) and its string `extra` fields."""
    if getattr(record, "_redacted", False):
        return record
    return _make_log_safe(record)


def _make_log_safe(record: logging.LogRecord) -> logging.LogRecord:
    try:
        message = record.getMessage()
    except Exception:  # a broken format string must not lose the record
        message = f"{record.msg!r} {record.args!r}"
    record.msg = log_safe(message)
    record.args = None
    if record.exc_info and not record.exc_text:
        record.exc_text = _exception_text(record.exc_info)
    if record.exc_text:
        record.exc_text = redact(record.exc_text)
    if record.stack_info:
        record.stack_info = redact(record.stack_info)
    for name, value in list(vars(record).items()):
        if name not in _RECORD_ATTRIBUTES and isinstance(value, str):
            setattr(record, name, log_safe(value))
    record._redacted = True  # a marker attribute, as logging allows any
    return record


def _exception_text(exc_info: Any) -> str:
    """The traceback as `logging.Formatter.formatException` writes it, but with each exception's
    message on one line: a traceback spans lines, a message quoting a file's name must not add any."""
    _type, value, trace = exc_info
    if not isinstance(value, BaseException):
        return logging.Formatter().formatException(exc_info)
    described = traceback.TracebackException(type(value), value, trace, compact=True)
    _escape_messages(described, set())
    return "".join(described.format()).removesuffix("\n")


def _escape_messages(described: traceback.TracebackException, seen: set[int]) -> None:
    if id(described) in seen:
        return
    seen.add(id(described))
    # The exception's text, kept by TracebackException in `_str` (3.10 to 3.13).
    message = getattr(described, "_str", None)
    if isinstance(message, str):
        described._str = escape_control_characters(message)  # type: ignore[attr-defined]
    notes = getattr(described, "__notes__", None)
    if isinstance(notes, list):
        described.__notes__ = [escape_control_characters(str(note)) for note in notes]
    for linked in (described.__cause__, described.__context__, *(getattr(described, "exceptions", None) or ())):
        if linked is not None:
            _escape_messages(linked, seen)


class _LogSafeFields(dict[str, Any]):
    """A record's attributes. `Logger.makeRecord` writes each `extra` field into the record's
    `__dict__` after the record factory has run, so the factory hands it this dict, which makes
    each string it is given log-safe on the way in."""

    def __setitem__(self, name: str, value: Any) -> None:
        super().__setitem__(name, log_safe(value) if isinstance(value, str) else value)


class RedactingFilter(logging.Filter):
    """Masks a record that did not pass through the redacting record factory, or was filled in after
    it (`logging.makeLogRecord` sets the fields of a record the factory made empty)."""

    def filter(self, record: logging.LogRecord) -> bool:
        _make_log_safe(record)
        return True


class _RedactingRecordFactory:
    def __init__(self, wrapped: Callable[..., logging.LogRecord]):
        self.wrapped = wrapped

    def __call__(self, *args: Any, **kwargs: Any) -> logging.LogRecord:
        record = redact_record(self.wrapped(*args, **kwargs))
        record.__dict__ = _LogSafeFields(record.__dict__)
        return record


def install_log_redaction() -> None:
    """Every log record of this process is masked when it is created, whichever logger made it
    and whichever handler (added now or later) receives it. Idempotent."""
    factory = logging.getLogRecordFactory()
    if not isinstance(factory, _RedactingRecordFactory):
        logging.setLogRecordFactory(_RedactingRecordFactory(factory))
