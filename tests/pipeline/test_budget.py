"""The character budget, on Azurite with the fake service: files over it wait (BudgetExceeded) in
drop order and go when the window turns or the budget is raised; with no budget nothing of it runs."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime, timedelta

import pytest
from azure.storage.blob import BlobClient

from shared.pipeline import budget, estimate, grouping
from shared.pipeline import submit as submit_module
from shared.pipeline.poll import poll_outstanding_jobs
from shared.pipeline.submit import plan_for, submit_dropped_blob
from shared.storage.records import ReasonCode, SourceVersion, State
from shared.storage.spend_counters import SpendCounters
from tests.pipeline.conftest import record_all, upload
from tests.pipeline.fake_service import source_name

pytestmark = pytest.mark.integration


def submitted_names(service) -> list[str]:
    return [source_name(item) for job in service.jobs.values() for item in job.inputs]


def test_a_file_over_the_daily_budget_waits_and_goes_when_the_day_turns(make_context, service, clock):
    ctx = make_context(CHARACTER_BUDGET_PER_DAY="100", TARGET_LANGUAGES="fr")
    first = submit_dropped_blob(upload(ctx, "a.txt", b"x" * 60), ctx)
    second = submit_dropped_blob(upload(ctx, "b.txt", b"y" * 60), ctx)
    third = submit_dropped_blob(upload(ctx, "c.txt", b"z" * 10), ctx)
    assert submitted_names(service) == ["a.txt"]
    waiting = ctx.records.get_open(second.key)
    assert waiting.state is State.WAITING and waiting.reason_code == ReasonCode.BUDGET_EXCEEDED
    assert waiting.needs_attention and waiting.estimated_characters == 60 and waiting.estimate_method == "text"
    # c.txt would fit, but b.txt was dropped first: drop order is kept.
    assert ctx.records.get_open(third.key).state is State.WAITING
    assert ctx.records.get_open(first.key).estimated_characters == 60

    now = clock()
    clock.advance((datetime(now.year, now.month, now.day, tzinfo=UTC) + timedelta(days=1) - now).total_seconds() + 1)
    poll_outstanding_jobs(ctx)
    assert sorted(submitted_names(service)) == ["a.txt", "b.txt", "c.txt"]
    assert ctx.records.get_open(second.key).state is State.GROUPED


def test_a_raised_budget_lets_the_waiting_files_go_at_the_next_look(make_context, service, clock):
    ctx = make_context(CHARACTER_BUDGET_PER_MONTH="50", TARGET_LANGUAGES="fr,de")
    submit_dropped_blob(upload(ctx, "big.txt", b"x" * 30), ctx)  # 60 characters billed: over 50
    assert submitted_names(service) == []
    raised = make_context(CHARACTER_BUDGET_PER_MONTH="1000", TARGET_LANGUAGES="fr,de")
    ctx.settings = raised.settings
    clock.advance(2 * budget.RECHECK.total_seconds() + 1)  # the next look is within two RECHECKs
    poll_outstanding_jobs(ctx)
    assert submitted_names(service) == ["big.txt"]
    assert ctx.spend.spent(tuple(w.name for w in budget.windows(ctx.settings, clock()))) != {}


def test_a_group_is_cut_to_what_fits_and_the_charge_replaces_the_estimate(make_context, service, clock, monkeypatch):
    ctx = make_context(CHARACTER_BUDGET_PER_DAY="100", TARGET_LANGUAGES="fr")
    lease = ctx.schedule.acquire("x", "nobody", clock() + timedelta(seconds=1), clock())  # an unrelated plan
    assert lease is not None
    # Files land while someone groups: they are grouped as one job, cut to what fits.
    original = ctx.leases_here.holds
    monkeypatch.setattr(ctx.leases_here, "holds", lambda plan, now: True)
    keys = []
    for i in range(3):
        keys.append(submit_dropped_blob(upload(ctx, f"f{i}.txt", b"w" * 40), ctx).key)
        clock.advance(0.1)  # dropped one after the other
    monkeypatch.setattr(ctx.leases_here, "holds", original)
    clock.advance(60)
    poll_outstanding_jobs(ctx)
    assert sorted(submitted_names(service)) == ["f0.txt", "f1.txt"]
    assert ctx.records.get_open(keys[2]).reason_code == ReasonCode.BUDGET_EXCEEDED
    window = budget.windows(ctx.settings, clock())[0].name
    assert ctx.spend.spent((window,)) == {window: 80}
    job = next(iter(service.jobs))
    service.finish(job)
    clock.advance(5)
    poll_outstanding_jobs(ctx)
    finals = [final for final in record_all(ctx) if final is not None]
    assert finals and all(final.estimated_characters == 40 for final in finals)
    charged = sum(final.characters_charged for final in finals)
    assert ctx.spend.spent((window,)) == {window: charged}


TABLE_OPERATIONS = (
    "create_entity",
    "update_entity",
    "upsert_entity",
    "get_entity",
    "query_entities",
    "delete_entity",
    "submit_transaction",
)


def count_storage_calls(ctx, monkeypatch) -> Counter[str]:
    """Counts the records table's calls and blob downloads made from now on."""
    calls: Counter[str] = Counter()

    def counted(name, call):
        return lambda *args, **kwargs: calls.update([name]) or call(*args, **kwargs)

    table = ctx.storage.records_table
    for operation in TABLE_OPERATIONS:
        monkeypatch.setattr(table, operation, counted(operation, getattr(table, operation)))
    monkeypatch.setattr(BlobClient, "download_blob", counted("download_blob", BlobClient.download_blob))
    return calls


def refuse_budget_work(monkeypatch) -> None:
    def refuse(*_args, **_kwargs):
        raise AssertionError("no budget is set: nothing of it may run")

    monkeypatch.setattr(submit_module, "estimate_blob", refuse)
    monkeypatch.setattr(SpendCounters, "spent", refuse)
    monkeypatch.setattr(SpendCounters, "add", refuse)


def test_with_no_budget_a_drop_makes_no_extra_storage_call_and_is_not_estimated(ctx, service, clock, monkeypatch):
    refuse_budget_work(monkeypatch)
    blob = upload(ctx, "a.txt", b"hello")
    calls = count_storage_calls(ctx, monkeypatch)
    result = submit_dropped_blob(blob, ctx)
    assert result.action == "submitted"
    # The module docstring's nine calls of a drop submitted alone: the blob's properties and eight on the table.
    assert sum(calls[operation] for operation in TABLE_OPERATIONS) == 8 and calls["download_blob"] == 0
    service.finish(result.job_id)
    clock.advance(5)
    poll_outstanding_jobs(ctx)
    final = record_all(ctx)[0]
    assert final.estimated_characters is None and final.estimate_method is None
    assert ctx.records.get_final(result.key).estimated_characters is None


def test_with_no_budget_a_bulk_is_grouped_without_estimates_or_counters(ctx, service, clock, monkeypatch):
    refuse_budget_work(monkeypatch)
    blobs = [upload(ctx, f"bulk/{index:02d}.txt", b"Hello") for index in range(20)]
    properties = blobs[0].get_blob_properties()
    plan = plan_for(ctx, SourceVersion.of(ctx.settings.source_container, blobs[0].blob_name, properties), {})
    lease = grouping.acquire(ctx, plan.digest)  # someone groups this plan: the drops wait for it
    calls = count_storage_calls(ctx, monkeypatch)
    assert {submit_dropped_blob(blob, ctx).action for blob in blobs} == {"waiting"}
    assert grouping.keep_grouping(ctx, lease, patient=False) == 1
    assert calls["download_blob"] == 0
    assert not list(
        ctx.storage.records_table.query_entities(
            "PartitionKey eq 'schedule' and RowKey ge 'spend|' and RowKey lt 'spend}'"
        )
    )


def test_blobs_are_estimated_by_streaming_them_text_package_or_size(ctx):
    import io
    import zipfile

    from shared.pipeline.estimate import estimate_blob

    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("word/document.xml", "<w:document xmlns:w='w'><w:t>Bonjour</w:t><w:t>tout</w:t></w:document>")
        archive.writestr("word/footer1.xml", "<w:ftr xmlns:w='w'><w:t>p. 1</w:t></w:ftr>")
    docx = buffer.getvalue()
    cases = {
        "notes.md": ("# Titre ✓\n".encode() * 1000, (len("# Titre ✓\n") * 1000, "text")),
        "letter.docx": (docx, (len("Bonjourtoutp. 1"), "package")),
        "scan.pdf": (b"%PDF" + b"\0" * 996, (500, "size")),
        "broken.docx": (b"not a zip file", (7, "size")),
    }
    for name, (data, (characters, method)) in cases.items():
        blob = upload(ctx, name, data)
        assert estimate_blob(blob, len(data), 3) == estimate.Estimate(characters * 3, method), name
