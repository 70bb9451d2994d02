"""Rules per folder on Azurite with a scripted service: a file dropped under a prefix gets its rule's
languages, glossaries, category and source language; records and reports name the rule; a bad
rules document never stops the drop folder."""

from __future__ import annotations

import json
import re
import uuid
from urllib.parse import urlsplit

import pytest

from shared.pipeline.rules import RULES_TROUBLE
from shared.pipeline.submit import submit_dropped_blob
from shared.settings import Settings, SettingsError
from shared.storage.records import OPEN_CODEC, Outcome
from tests.pipeline.conftest import finished, record_all, upload

pytestmark = pytest.mark.integration

RULES = {
    "rules": [
        {"prefix": "legal/", "languages": ["fr", "de"], "glossaries": {"fr": "legal-fr.csv", "de": "legal-de.csv"}},
        {"prefix": "marketing/", "languages": ["es", "it"], "category": "marketing-model", "source_language": "nl"},
        {"prefix": "marketing/es/", "languages": ["es"]},
    ]
}


def with_rules(make_context, body=RULES):
    ctx = make_context(RULES_BLOB=f"config-{uuid.uuid4().hex[:8]}/rules.json")
    glossaries = ctx.storage.container(ctx.settings.glossary_container)
    for name in ("legal-fr.csv", "legal-de.csv"):
        glossaries.upload_blob(name, b"contract,contrat\n", overwrite=True)
    put_rules(ctx, body)
    return ctx


def put_rules(ctx, body) -> str:
    container, _, name = ctx.settings.rules_blob.partition("/")
    text = body if isinstance(body, str) else json.dumps(body)
    config = ctx.storage.container(container)
    if not config.exists():
        config.create_container()
    written = config.upload_blob(name, text.encode(), overwrite=True)
    ctx.rules.clear()  # what a minute's wait does
    return written.get_blob_properties().etag.strip('"')


def targets_of(start_call):
    [job] = start_call
    return job, {target.language: target for target in job.targets}


def test_files_in_a_ruled_folder_get_its_languages_and_others_the_settings(make_context, service):
    ctx = with_rules(make_context)
    legal = submit_dropped_blob(upload(ctx, "legal/2026/contract.txt", b"Hello"), ctx)
    spanish = submit_dropped_blob(upload(ctx, "marketing/es/flyer.txt", b"Hola"), ctx)
    plain = submit_dropped_blob(upload(ctx, "notes.txt", b"Hi"), ctx)
    assert (legal.action, spanish.action, plain.action) == ("submitted",) * 3

    _, legal_targets = targets_of(service.start_calls[0])
    assert list(legal_targets) == ["fr", "de"]
    assert urlsplit(legal_targets["fr"].glossaries[0].url).path.endswith("/legal-fr.csv")
    assert urlsplit(legal_targets["de"].glossaries[0].url).path.endswith("/legal-de.csv")
    _, spanish_targets = targets_of(service.start_calls[1])
    assert list(spanish_targets) == ["es"]
    _, plain_targets = targets_of(service.start_calls[2])
    assert list(plain_targets) == list(ctx.settings.target_languages)

    version = ctx.rules.get().document.version
    assert version
    assert (ctx.records.get_open(legal.key).rule, ctx.records.get_open(legal.key).rules_version) == ("legal/", version)
    assert ctx.records.get_open(spanish.key).rule == "marketing/es/"
    # No rule matched, under rules document `version`.
    assert (ctx.records.get_open(plain.key).rule, ctx.records.get_open(plain.key).rules_version) == (None, version)


def test_a_rule_sets_category_and_source_language(make_context, service):
    ctx = with_rules(make_context)
    submit_dropped_blob(upload(ctx, "marketing/fr/flyer.txt", b"Hallo"), ctx)
    job, targets = targets_of(service.start_calls[0])
    assert list(targets) == ["es", "it"]
    assert {target.category for target in targets.values()} == {"marketing-model"}
    assert job.source_language == "nl"


def test_the_files_own_metadata_overrides_its_rules_languages_and_the_rest_of_the_rule_applies(make_context, service):
    ctx = with_rules(make_context)
    result = submit_dropped_blob(upload(ctx, "legal/nda.txt", b"Hello", {"targetlanguages": "fr,es"}), ctx)
    _, targets = targets_of(service.start_calls[0])
    assert list(targets) == ["fr", "es"]
    assert urlsplit(targets["fr"].glossaries[0].url).path.endswith("/legal-fr.csv")
    assert targets["es"].glossaries == ()
    assert ctx.records.get_open(result.key).rule == "legal/"


def test_the_final_record_and_the_report_name_the_rule(make_context, service, clock):
    ctx = with_rules(make_context)
    version = ctx.rules.get().document.version
    result = finished(ctx, service, clock, "marketing/es/ad.txt")
    [final] = record_all(ctx)
    assert final.outcome == Outcome.SUCCEEDED and final.languages == ["es"]
    assert (final.rule, final.rules_version) == ("marketing/es/", version)
    stored = ctx.records.get_final(result.key)
    assert (stored.rule, stored.rules_version) == ("marketing/es/", version)
    report = json.loads(
        ctx.storage.container(ctx.settings.reports_container).download_blob("marketing/es/ad.txt.json").readall()
    )
    assert (report["rule"], report["rules_version"]) == ("marketing/es/", version)


def test_a_rule_whose_glossary_is_missing_rejects_the_file_with_the_reason(make_context, service, clock):
    ctx = with_rules(make_context)
    ctx.storage.container(ctx.settings.glossary_container).delete_blob("legal-de.csv")
    ctx.glossary_names.clear()
    result = submit_dropped_blob(upload(ctx, "legal/a.txt", b"Hello"), ctx)
    assert (result.action, result.reason) == ("rejected", "RuleNotHonoured")
    assert service.start_calls == []
    [final] = record_all(ctx)
    assert final.outcome == Outcome.REJECTED and "legal-de.csv" in final.reason_message
    assert final.rule == "legal/" and final.languages == ["fr", "de"]


def test_a_bad_document_keeps_the_last_good_rules_flags_it_and_a_fix_clears_it(make_context, service):
    ctx = with_rules(make_context)
    good = ctx.rules.get().document.version
    bad = put_rules(ctx, {"rules": [{"prefix": "legal/", "languages": ["xx"]}]})
    result = submit_dropped_blob(upload(ctx, "legal/after.txt", b"Hello"), ctx)
    assert result.action == "submitted"
    _, targets = targets_of(service.start_calls[0])
    assert list(targets) == ["fr", "de"]  # the last good rules
    assert ctx.records.get_open(result.key).rules_version == good
    trouble = ctx.records.state.get_trouble(RULES_TROUBLE)
    assert trouble is not None and bad in trouble.reason and "'xx'" in trouble.reason

    fixed = put_rules(ctx, {"rules": [{"prefix": "legal/", "languages": ["pl"]}]})
    again = submit_dropped_blob(upload(ctx, "legal/fixed.txt", b"Hello"), ctx)
    _, targets = targets_of(service.start_calls[1])
    assert list(targets) == ["pl"] and ctx.records.get_open(again.key).rules_version == fixed
    assert ctx.records.state.get_trouble(RULES_TROUBLE) is None


def test_a_cold_instance_with_only_a_bad_document_uses_the_settings_and_says_so(make_context, service):
    ctx = with_rules(make_context, body="{not json")
    result = submit_dropped_blob(upload(ctx, "legal/cold.txt", b"Hello"), ctx)
    assert result.action == "submitted"
    _, targets = targets_of(service.start_calls[0])
    assert list(targets) == list(ctx.settings.target_languages)
    assert ctx.records.get_open(result.key).rule is None
    assert "no rules apply" in ctx.records.state.get_trouble(RULES_TROUBLE).reason


def test_no_rules_document_at_all_leaves_the_records_without_a_rule(make_context, service):
    ctx = make_context(RULES_BLOB=f"config-{uuid.uuid4().hex[:8]}/absent.json")
    result = submit_dropped_blob(upload(ctx, "legal/x.txt", b"Hello"), ctx)
    record = ctx.records.get_open(result.key)
    assert result.action == "submitted" and (record.rule, record.rules_version) == (None, None)


def test_a_record_written_before_rules_reads_without_them(ctx):
    result = submit_dropped_blob(upload(ctx, "old.txt", b"Hello"), ctx)
    entity = dict(ctx.storage.records_table.get_entity(*_keys(ctx, result.key)))
    for column in ("Rule", "RulesVersion"):
        entity.pop(column, None)
    record = OPEN_CODEC.from_entity(entity)
    assert (record.rule, record.rules_version) == (None, None) and record.source_name == "old.txt"


def _keys(ctx, key):
    from shared.storage.record_keys import open_partition

    return open_partition(key), key


def test_rules_blob_in_the_source_container_is_refused(azurite):
    env = {
        "TRANSLATION_STORAGE": azurite.connection_string,
        "TRANSLATOR_ENDPOINT": "http://127.0.0.1:9",
        "RULES_BLOB": "source/rules.json",
    }
    with pytest.raises(SettingsError, match=re.escape("RULES_BLOB='source/rules.json' is in the source container")):
        Settings.from_env(env)
    with pytest.raises(SettingsError, match="RULES_BLOB"):
        Settings.from_env({**env, "RULES_BLOB": "rules.json"})
