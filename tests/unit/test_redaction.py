"""Secrets are masked in text, URLs and log records."""

from __future__ import annotations

import logging

import pytest

from shared.redaction import RedactingFilter, install_log_redaction, redact, redact_url, strip_query

SIG = "abc%2Bdef%3D"
ACCOUNT_KEY = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="


@pytest.mark.parametrize(
    ("text", "secret", "kept"),
    [
        (f"https://a.blob.core.windows.net/c/b.docx?sv=2024-08-04&sp=r&sig={SIG}&se=2030", SIG, "se=2030"),
        (f"'https://a/c?sv=1&sig={SIG}'", SIG, "sv=1"),
        (
            f"DefaultEndpointsProtocol=https;AccountName=a;AccountKey={ACCOUNT_KEY};EndpointSuffix=x",
            ACCOUNT_KEY,
            "EndpointSuffix=x",
        ),
        (
            "BlobEndpoint=https://a/;SharedAccessSignature=sv=2024&ss=b&sig=SECRET;QueueEndpoint=q",
            "SECRET",
            "QueueEndpoint=q",
        ),
        ("Ocp-Apim-Subscription-Key: 0123456789abcdef", "0123456789abcdef", "Ocp-Apim-Subscription-Key"),
        ("{'Ocp-Apim-Subscription-Key': '0123456789abcdef'}", "0123456789abcdef", "Ocp-Apim-Subscription-Key"),
        ("?Ocp-Apim-Subscription-Key=0123456789abcdef&x=1", "0123456789abcdef", "x=1"),
        ("Authorization: Bearer eyJ0eXAiOiJKV1Q.eyJhdWQiOi.sig-part_x", "eyJ0eXAiOiJKV1Q", "Authorization"),
        (
            "https://app.azurewebsites.net/runtime/webhooks/blobs?functionName=f&code=FUNCKEY123==",
            "FUNCKEY123",
            "functionName=f",
        ),
    ],
)
def test_redact_masks_each_kind_of_secret(text, secret, kept):
    redacted = redact(text)
    assert secret not in redacted
    assert "***" in redacted
    assert kept in redacted


def test_redact_leaves_ordinary_text_alone():
    text = "Submitted job 727bf148 for source/report.docx (signature check ok, code path B)"
    assert redact(text) == text


def test_redact_url_keeps_param_names_and_harmless_values():
    url = f"https://a.blob.core.windows.net/c/b.docx?sv=2024-08-04&sr=b&sp=r&se=2030-01-01T00%3A00Z&sig={SIG}"
    assert (
        redact_url(url)
        == "https://a.blob.core.windows.net/c/b.docx?sv=2024-08-04&sr=b&sp=r&se=2030-01-01T00%3A00Z&sig=***"
    )
    assert redact_url("https://x/y?code=k&functionName=f") == "https://x/y?code=***&functionName=f"
    assert redact_url("https://user:pw@x/y") == "https://***@x/y"
    assert redact_url("https://x/plain") == "https://x/plain"


def test_strip_query_drops_sas_and_fragment():
    assert strip_query(f"https://a.blob.core.windows.net/c/dir/b.docx?sv=1&sig={SIG}#f") == (
        "https://a.blob.core.windows.net/c/dir/b.docx"
    )


def test_filter_formats_args_then_redacts(caplog):
    logger = logging.getLogger("tests.redaction.filter")
    logger.addFilter(RedactingFilter())
    try:
        with caplog.at_level(logging.INFO, logger=logger.name):
            logger.info("Source %s, conn %s", f"https://a/c?sig={SIG}", f"AccountKey={ACCOUNT_KEY};")
    finally:
        logger.filters.clear()
    (record,) = caplog.records
    assert SIG not in record.getMessage() and ACCOUNT_KEY not in record.getMessage()
    assert "Source https://a/c?sig=***" in record.getMessage()


def test_filter_redacts_exception_text(caplog):
    logger = logging.getLogger("tests.redaction.exc")
    logger.addFilter(RedactingFilter())
    try:
        with caplog.at_level(logging.ERROR, logger=logger.name):
            try:
                raise RuntimeError(f"could not read https://a/c?sig={SIG}")
            except RuntimeError:
                logger.exception("failed")
    finally:
        logger.filters.clear()
    assert SIG not in caplog.text


def test_records_are_masked_when_created_so_a_handler_added_later_gets_masked_text():
    install_log_redaction()
    install_log_redaction()  # idempotent
    late = logging.Handler()
    seen: list[logging.LogRecord] = []
    late.emit = seen.append  # type: ignore[method-assign]
    logger = logging.getLogger("some.child.module.late")
    logger.addHandler(late)
    logger.setLevel(logging.INFO)
    try:
        logger.info("source %s, header Ocp-Apim-Subscription-Key: %s", f"https://a/c?sv=1&sig={SIG}", "SECRETKEY42")
    finally:
        logger.removeHandler(late)
    [record] = seen
    text = logging.Formatter().format(record)
    assert SIG not in text and "SECRETKEY42" not in text and "sig=***" in text


def test_file_names_that_merely_look_like_secrets_are_kept():
    for text in ("dropped sig=x.txt", "https://a/source/sig=x.txt?sv=1", "reports/code=7.md.json"):
        assert redact(text) == text
    assert redact(f"https://a/source/sig=x.txt?sv=1&sig={SIG}") == "https://a/source/sig=x.txt?sv=1&sig=***"


def test_a_registered_secret_is_masked_wherever_it_appears():
    from shared.redaction import register_secret

    register_secret("k3y-that-is-long-enough")
    register_secret("short")  # too short to mask by value
    assert redact("the key k3y-that-is-long-enough leaked") == "the key *** leaked"
    assert redact("a short word") == "a short word"
