"""What an operator finds in Application Insights: fields on every log line about a file, metrics."""

import io
import logging

import pytest
from opentelemetry import metrics as otel_metrics
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader

from shared.pipeline.record import record_outcome
from shared.pipeline.submit import submit_dropped_blob
from shared.telemetry import FieldsFormatter
from tests.pipeline.conftest import drain_results, finished, record_all, upload

pytestmark = pytest.mark.integration
reader = InMemoryMetricReader()


@pytest.fixture(scope="module", autouse=True)
def meter_provider():
    # The global provider can be set once per process; the app's instruments find it through the API.
    otel_metrics.set_meter_provider(MeterProvider(metric_readers=[reader]))


def points(name: str) -> list:
    data = reader.get_metrics_data()
    found = []
    for resource in data.resource_metrics if data else []:
        for scope in resource.scope_metrics:
            for metric in scope.metrics:
                if metric.name == name:
                    found.extend(metric.data.data_points)
    return found


def test_every_log_line_about_a_file_carries_its_fields(ctx, service, clock, caplog):
    caplog.set_level(logging.INFO)
    result = finished(ctx, service, clock, "fields.txt", b"Hello")
    record_all(ctx)
    about_the_file = [record for record in caplog.records if getattr(record, "record_key", None) == result.key]
    events = {record.event for record in about_the_file}
    assert {"translation.claimed", "translation.submitted", "translation.recorded"} <= events
    recorded = next(record for record in about_the_file if record.event == "translation.recorded")
    assert recorded.source_path.endswith("/fields.txt") and recorded.job_id == result.job_id
    assert recorded.outcome == "Succeeded" and recorded.languages == "fr,de"
    assert recorded.characters_charged == 200 and recorded.drop_to_record_seconds >= 0


def test_a_rejection_is_information_not_a_warning(ctx, service, caplog):
    caplog.set_level(logging.INFO)
    submit_dropped_blob(upload(ctx, "rejected.zip", b"PK"), ctx)
    [rejected] = [record for record in caplog.records if getattr(record, "event", None) == "translation.rejected"]
    assert rejected.levelno == logging.INFO and rejected.reason_code == "UnsupportedFormat"


def test_metrics_count_files_documents_and_characters(ctx, service, clock):
    finished(ctx, service, clock, "metrics.txt", b"Hello", failures={"de": ("NoTranslatableText", "empty")})
    record_all(ctx)
    recorded = [p for p in points("translation.files.recorded") if p.attributes.get("outcome") == "PartiallySucceeded"]
    assert recorded and recorded[0].value >= 1
    failed_documents = [
        p for p in points("translation.documents") if p.attributes.get("reason_code") == "NoTranslatableText"
    ]
    assert failed_documents and failed_documents[0].value >= 1
    assert sum(p.value for p in points("translation.characters.charged")) >= 100
    assert points("translation.drop_to_record.seconds")
    assert points("translation.jobs.created") and points("translation.jobs.oldest_age_seconds")


def test_a_name_with_a_line_break_writes_no_forged_log_line(ctx):
    """What the local host's console (and a file log) shows for a drop named to forge a line."""
    forged = "2026-12-02 06:00:00,000 INFO shared.pipeline.record: FORGED.txt"
    stream = io.StringIO()
    console = logging.StreamHandler(stream)
    console.setFormatter(FieldsFormatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    root.addHandler(console)
    previous_level = root.level
    root.setLevel(logging.INFO)
    try:
        # Rejected for the control characters in its name, which its log lines quote.
        result = submit_dropped_blob(upload(ctx, f"break\n{forged}\r.txt", b"Hello"), ctx)
        for text in drain_results(ctx):
            record_outcome(text, ctx)
    finally:
        root.removeHandler(console)
        root.setLevel(previous_level)
    lines = stream.getvalue().splitlines()
    about_the_file = [line for line in lines if "FORGED.txt" in line]
    assert not [line for line in lines if line.startswith(forged)]
    assert result.key and any("translation.recorded" in line for line in about_the_file)
    assert all(f"break\\n{forged}\\r.txt" in line for line in about_the_file)
