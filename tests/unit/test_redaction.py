"""Secrets are masked in text, URLs and log records."""

from __future__ import annotations

import io
import logging
from collections.abc import Callable

import pytest

from shared.redaction import (
    RedactingFilter,
    escape_control_characters,
    install_log_redaction,
    redact,
    redact_url,
    strip_query,
)
from shared.telemetry import FieldsFormatter

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


def _lines_written(emit: Callable[[logging.Logger], None], formatter: logging.Formatter | None = None) -> list[str]:
    """What a console handler added after the redaction was installed writes for one log call."""
    install_log_redaction()
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(formatter or FieldsFormatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    logger = logging.getLogger("tests.redaction.lines")
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    try:
        emit(logger)
    finally:
        logger.removeHandler(handler)
    return stream.getvalue().splitlines()


FORGED = "break\n2026-12-02 06:00:00,000 INFO shared.pipeline.record: FORGED.txt"


@pytest.mark.parametrize(
    ("character", "spelled"),
    [
        ("\n", "\\n"),
        ("\r", "\\r"),
        ("\t", "\\t"),
        ("\x00", "\\x00"),
        ("\x01", "\\x01"),
        ("\x1f", "\\x1f"),
        ("\x7f", "\\x7f"),
        ("\x85", "\\x85"),
        ("\u2028", "\\u2028"),
        ("\u2029", "\\u2029"),
    ],
)
def test_control_characters_are_spelled_out_and_other_characters_kept(character, spelled):
    assert escape_control_characters(f"été {character}報告 \\ v2.txt") == f"été {spelled}報告 \\ v2.txt"


def test_a_name_with_a_line_break_in_a_message_arg_writes_one_line():
    lines = _lines_written(lambda logger: logger.info("%s (version %s) was claimed", FORGED, "0x1"))
    assert lines == [lines[0]]
    assert "break\\n2026-12-02 06:00:00,000 INFO shared.pipeline.record: FORGED.txt (version 0x1)" in lines[0]


def test_extra_fields_are_escaped_and_masked_whichever_handler_reads_them():
    seen: list[logging.LogRecord] = []

    def emit(logger: logging.Logger) -> None:
        collector = logging.Handler()
        collector.emit = seen.append  # type: ignore[method-assign]
        logger.addHandler(collector)
        try:
            logger.info(
                "claimed",
                extra={"source_path": f"source/{FORGED}", "url": f"https://a/c?sig={SIG}", "files": 3},
            )
        finally:
            logger.removeHandler(collector)

    lines = _lines_written(emit)
    assert len(lines) == 1 and "source_path=source/break\\n2026-12-02" in lines[0]
    [record] = seen
    # What the OpenTelemetry handler exports as custom dimensions: the attributes themselves.
    assert vars(record)["source_path"] == "source/" + FORGED.replace("\n", "\\n")
    assert vars(record)["url"] == "https://a/c?sig=***" and vars(record)["files"] == 3


def test_an_exception_quoting_a_name_keeps_its_message_on_one_line():
    def emit(logger: logging.Logger) -> None:
        try:
            try:
                raise KeyError(FORGED)
            except KeyError as exc:
                raise RuntimeError(f"could not read {FORGED}") from exc
        except RuntimeError:
            logger.exception("failed")

    lines = _lines_written(emit)
    assert not [line for line in lines if line.startswith("2026-12-02 06:00:00")]
    assert any(line.startswith("RuntimeError: could not read break\\n2026-12-02") for line in lines)
    assert any(line.startswith("KeyError: 'break\\n2026") for line in lines)


def test_a_record_built_by_hand_is_escaped_by_the_filter():
    record = logging.makeLogRecord({"msg": "dropped %s", "args": (FORGED,), "source_path": FORGED})
    RedactingFilter().filter(record)
    assert "\n" not in record.getMessage() and "\n" not in record.source_path


@pytest.mark.parametrize("name", ["api-key", "token", "password", "client_secret", "apikey"])
def test_redact_masks_every_secret_query_parameter_in_free_text_as_redact_url_does(name):
    from shared.redaction import redact, redact_url

    url = f"https://example.invalid/hook?sv=1&{name}=hunter2-value"
    assert redact(f"calling {url} failed") == f"calling {redact_url(url)} failed"
    assert "hunter2-value" not in redact(f"calling {url} failed")


def test_a_printed_dict_of_query_parameters_has_its_secrets_masked():
    from shared.redaction import redact

    assert redact("{'token': 'hunter2-value', 'key': 'record-key'}") == "{'token': '***', 'key': 'record-key'}"
