"""Masking of secrets (SAS signatures, account and subscription keys, bearer tokens, function keys).

Everything that may reach a log line, an exception message or a repr goes through `redact`
or `redact_url` first. The mask keeps the name of what was hidden (`sig=***`) so an operator
still sees which kind of credential a URL carried.
"""

from __future__ import annotations

import logging
import re
from urllib.parse import urlsplit, urlunsplit

MASK = "***"

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

# (pattern, replacement) applied in order; each keeps the name and masks the value.
_PATTERNS: tuple[tuple[re.Pattern[str], str], ...] = (
    # A whole SAS in a connection string; runs before `sig=` so the value is masked up to `;`.
    (re.compile(r"(SharedAccessSignature=)[^;\s\"'<>]+", re.IGNORECASE), r"\1" + MASK),
    (re.compile(r"(AccountKey=)[^;\s\"'<>]+", re.IGNORECASE), r"\1" + MASK),
    (re.compile(r"((?<![A-Za-z0-9_-])sig=)(?!\*\*\*)[^&\s\"'<>;#]+", re.IGNORECASE), r"\1" + MASK),
    (re.compile(r"([?&;]code=)(?!\*\*\*)[^&\s\"'<>;#]+", re.IGNORECASE), r"\1" + MASK),
    # Header forms: "Ocp-Apim-Subscription-Key: v", "...Key=v", and dict reprs "'...Key': 'v'".
    (
        re.compile(r"(Ocp-Apim-Subscription-Key['\"]?\s*[:=]\s*['\"]?)(?!\*\*\*)[^\s,;'\"&}\]]+", re.IGNORECASE),
        r"\1" + MASK,
    ),
    (re.compile(r"(Bearer\s+)(?!\*\*\*)[A-Za-z0-9\-._~+/]+=*", re.IGNORECASE), r"\1" + MASK),
)


def redact(text: str) -> str:
    """`text` with every secret value it contains replaced by `***`."""
    if not text:
        return text
    for pattern, replacement in _PATTERNS:
        text = pattern.sub(replacement, text)
    return text


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


class RedactingFilter(logging.Filter):
    """Formats each record's message with its args, then masks secrets in the result.

    Exception text is formatted and masked here too, because a handler's formatter would
    otherwise render it from `exc_info` after every filter has run.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a broken format string must not lose the record
            message = f"{record.msg!r} {record.args!r}"
        record.msg = redact(message)
        record.args = None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = redact(record.exc_text)
        if record.stack_info:
            record.stack_info = redact(record.stack_info)
        return True


def install_log_redaction(logger: logging.Logger | None = None) -> None:
    """Adds a `RedactingFilter` to `logger` (default: the root logger) and to the root logger's handlers.

    Idempotent. Records from child loggers reach the root's handlers without passing the
    root logger's own filters, hence the filter on each handler as well.
    """
    root = logging.getLogger()
    targets: list[logging.Filterer] = [logger or root, *root.handlers]
    if logger is not None:
        targets.extend(logger.handlers)
    for target in targets:
        if not any(isinstance(existing, RedactingFilter) for existing in target.filters):
            target.addFilter(RedactingFilter())
