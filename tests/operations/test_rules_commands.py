"""`translation-ops rules check` and `rules show`, and the rules document's trouble in `status`."""

from __future__ import annotations

import json
import uuid

import pytest

from shared.pipeline.submit import submit_dropped_blob
from tests.pipeline.conftest import upload

pytestmark = pytest.mark.integration

GOOD = {"rules": [{"prefix": "legal/", "languages": ["fr", "de"]}, {"prefix": "legal/es/", "languages": ["es"]}]}


@pytest.fixture
def ctx(make_context):
    return make_context(RULES_BLOB=f"config-{uuid.uuid4().hex[:8]}/rules.json")


def put_rules(ctx, body) -> None:
    container, _, name = ctx.settings.rules_blob.partition("/")
    config = ctx.storage.container(container)
    if not config.exists():
        config.create_container()
    config.upload_blob(name, (body if isinstance(body, str) else json.dumps(body)).encode(), overwrite=True)
    ctx.rules.clear()


def test_check_prints_the_rule_each_path_gets(run, tmp_path):
    rules_file = tmp_path / "rules.json"
    rules_file.write_text(json.dumps(GOOD))
    code, output = run("rules", "check", str(rules_file), "--path", "legal/es/a.docx", "--path", "b.docx", "--json")
    assert code == 0
    body = json.loads(output)
    assert body["valid"] and body["rules"] == 2
    assert [(row["path"], row["rule"]) for row in body["paths"]] == [("legal/es/a.docx", "legal/es/"), ("b.docx", None)]
    code, output = run("rules", "check", str(rules_file))
    assert code == 0 and "legal/es/example.docx" in output and "2 rules, valid" in output


def test_check_refuses_a_bad_document_in_one_line_with_exit_code_1(run_split, tmp_path):
    rules_file = tmp_path / "rules.json"
    rules_file.write_text(json.dumps({"rules": [{"prefix": "legal/", "languages": ["fr"], "glosaries": {}}]}))
    result = run_split("rules", "check", str(rules_file))
    assert result.exit_code == 1
    [line] = result.stderr.splitlines()
    assert "unknown field 'glosaries'" in line and "rule 1" in line


def test_check_with_languages_asks_the_service(run_split, tmp_path):
    rules_file = tmp_path / "rules.json"
    rules_file.write_text(json.dumps({"rules": [{"prefix": "a/", "languages": ["fr", "tlh"]}]}))
    assert run_split("rules", "check", str(rules_file)).exit_code == 0  # the syntax is fine
    result = run_split("rules", "check", str(rules_file), "--languages")
    assert result.exit_code == 1 and "'tlh'" in result.stderr


def test_show_prints_the_stored_rules_and_a_bad_document_is_refused_and_in_status(ctx, run, run_split):
    code, output = run("rules", "show")
    assert code == 0 and "does not exist" in output
    put_rules(ctx, GOOD)
    code, output = run("rules", "show", "--json")
    shown = json.loads(output)
    assert code == 0 and [rule["prefix"] for rule in shown["rules"]] == ["legal/", "legal/es/"] and shown["version"]

    submit_dropped_blob(upload(ctx, "legal/a.txt", b"Hello"), ctx)  # the app reads the good rules
    put_rules(ctx, "{oops")
    submit_dropped_blob(upload(ctx, "legal/b.txt", b"Hello"), ctx)  # ... and flags the bad one
    result = run_split("rules", "show")
    assert result.exit_code == 1 and "not JSON" in result.stderr
    code, output = run("status", "--json")
    trouble = json.loads(output)["rules_document"]
    assert "not JSON" in trouble["reason"] and "still apply" in trouble["reason"]
    code, output = run("status")
    assert "rules document cannot be used" in output


def test_show_names_the_folder_rule_of_the_newest_version(ctx, run):
    put_rules(ctx, GOOD)
    submit_dropped_blob(upload(ctx, "legal/es/contrato.txt", b"Hola"), ctx)
    code, output = run("show", "legal/es/contrato.txt")
    assert code == 0 and "folder rule legal/es/ of rules document" in output
    code, output = run("show", "legal/es/contrato.txt", "--json")
    [outstanding] = json.loads(output)["outstanding"]
    assert outstanding["rule"] == "legal/es/" and outstanding["rules_version"]
