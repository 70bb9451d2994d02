"""Rules per folder: the document's schema, strictly checked, and which rule a path gets."""

from __future__ import annotations

import json
import logging

import pytest
from azure.core.exceptions import ServiceRequestError

from shared.pipeline.rules import (
    NO_RULES,
    RulesBlob,
    RulesError,
    RulesKeeper,
    checked,
    describe,
    parse_rules,
)

SUPPORTED = {"fr": "fr", "de": "de", "es": "es", "en": "en", "zh-hans": "zh-Hans"}
GOOD = {
    "rules": [
        {"prefix": "legal/", "languages": ["fr", "de"], "glossaries": {"fr": "legal-fr.csv", "de": "legal-de.csv"}},
        {"prefix": "marketing/", "languages": ["es", "fr"], "category": "cat-1", "source_language": "en"},
        {"prefix": "marketing/es/", "languages": ["es"]},
    ]
}


def document(body: object, version: str = "v1"):
    return parse_rules(json.dumps(body), version=version)


def test_the_longest_matching_prefix_wins():
    rules = document(GOOD)
    assert rules.rule_for("marketing/es/flyer.docx").prefix == "marketing/es/"
    assert rules.rule_for("marketing/fr/flyer.docx").prefix == "marketing/"
    assert rules.rule_for("legal/2026/contract.pdf").languages == ("fr", "de")
    assert rules.rule_for("readme.txt") is None


def test_a_prefix_is_a_folder_so_a_longer_name_alone_does_not_match():
    rules = document(GOOD)
    assert rules.rule_for("legalese.docx") is None
    assert rules.rule_for("Legal/contract.pdf") is None  # blob names are case-sensitive


def test_every_field_is_read_in_the_services_spelling():
    rules = document({"rules": [{"prefix": "cn/", "languages": ["ZH-hans", "FR"], "source_language": "EN"}]})
    [rule] = rules.rules
    assert rule.languages == ("zh-Hans", "fr") and rule.source_language == "en"
    assert rules.version == "v1"


@pytest.mark.parametrize(
    ("body", "complaint"),
    [
        ("not json", "not JSON"),
        ([], "JSON object"),
        ({"rule": []}, "unknown field 'rule'"),
        ({"rules": {}}, "must be a list"),
        ({"rules": ["legal/"]}, "must be an object"),
        ({"rules": [{"languages": ["fr"]}]}, "prefix must be"),
        ({"rules": [{"prefix": "legal", "languages": ["fr"]}]}, "ending with '/'"),
        ({"rules": [{"prefix": "/legal/", "languages": ["fr"]}]}, "ending with '/'"),
        ({"rules": [{"prefix": "legal/"}]}, "names nothing"),
        ({"rules": [{"prefix": "legal/", "language": ["fr"]}]}, "unknown field 'language'"),
        ({"rules": [{"prefix": "legal/", "languages": "fr,de"}]}, "must be a list"),
        ({"rules": [{"prefix": "legal/", "languages": []}]}, "must be a list"),
        ({"rules": [{"prefix": "legal/", "languages": ["fr de"]}]}, "not a language code"),
        ({"rules": [{"prefix": "legal/", "languages": ["fr", "FR"]}]}, "given twice"),
        (
            {
                "rules": [
                    {
                        "prefix": "legal/",
                        "languages": ["fr", "de", "es", "it", "nl", "pt", "pl", "sv", "da", "fi", "nb"],
                    }
                ]
            },
            "at most 10",
        ),
        ({"rules": [{"prefix": "a/", "languages": ["fr"]}, {"prefix": "a/", "languages": ["de"]}]}, "given twice"),
        ({"rules": [{"prefix": "a/", "languages": ["fr"], "glossaries": {"de": "de.csv"}}]}, "not among its"),
        ({"rules": [{"prefix": "a/", "glossaries": {"fr": "sub/fr.csv"}}]}, "root of GLOSSARY_CONTAINER"),
        ({"rules": [{"prefix": "a/", "glossaries": {"fr": "fr"}}]}, "root of GLOSSARY_CONTAINER"),
        ({"rules": [{"prefix": "a/", "category": ""}]}, "category must be"),
        ({"rules": [{"prefix": "a/", "languages": ["en"], "source_language": "EN"}]}, "both its source_language"),
    ],
)
def test_a_document_that_breaks_the_schema_is_refused_saying_where(body, complaint):
    text = body if isinstance(body, str) else json.dumps(body)
    with pytest.raises(RulesError, match=complaint) as raised:
        parse_rules(text)
    if isinstance(body, dict) and isinstance(body.get("rules"), list) and len(body["rules"]) == 1:
        assert str(raised.value).startswith("rule 1")


def test_a_language_the_service_does_not_translate_is_refused_and_unchecked_when_it_cannot_say():
    rules = document({"rules": [{"prefix": "a/", "languages": ["fr", "xx"]}]})
    with pytest.raises(RulesError, match="'xx'"):
        checked(rules, SUPPORTED)
    assert checked(rules, None) is rules
    assert checked(document(GOOD), SUPPORTED).rules


def test_describe_tells_the_rule_of_each_path():
    rows = describe(document(GOOD), ["marketing/es/a.docx", "other.docx"])
    assert rows[0]["rule"] == "marketing/es/" and rows[0]["languages"] == ["es"]
    assert rows[1] == {"path": "other.docx", "rule": None}


class Store:
    """A rules blob that changes, and the app's trouble flag, as the keeper sees them."""

    def __init__(self) -> None:
        self.blob: RulesBlob | None = None
        self.flags: list[str] = []
        self.cleared = 0
        self.failing = False

    def put(self, body: object, version: str) -> None:
        self.blob = RulesBlob((body if isinstance(body, str) else json.dumps(body)).encode(), version)

    def read(self) -> RulesBlob | None:
        if self.failing:
            raise ServiceRequestError("storage out of reach")
        return self.blob

    def keeper(self) -> RulesKeeper:
        def flag(reason: str, _version: str) -> None:
            self.flags.append(reason)

        def clear() -> None:
            self.cleared += 1

        return RulesKeeper(read=self.read, languages=lambda: SUPPORTED, flag=flag, clear=clear)


def test_a_bad_document_keeps_the_last_good_rules_and_is_flagged_once(caplog):
    store = Store()
    keeper = store.keeper()
    store.put(GOOD, "v1")
    assert keeper.load().applied_to("legal/a.pdf").prefix == "legal/"
    store.put("{not json", "v2")
    with caplog.at_level(logging.WARNING):
        first = keeper.load()
        again = keeper.load()
    assert first.document.version == "v1" and first.rejected_version == "v2" and "not JSON" in first.problem
    assert again.applied_to("legal/a.pdf").version == "v1"
    [reason] = store.flags
    assert "v2" in reason and "the rules of version v1 still apply" in reason
    [warning] = [r for r in caplog.records if getattr(r, "event", None) == "translation.rules_rejected"]
    assert warning.levelno == logging.WARNING and warning.rules_version == "v2"
    # Fixed: the new rules apply, and the flag goes.
    store.put({"rules": [{"prefix": "legal/", "languages": ["es"]}]}, "v3")
    fixed = keeper.load()
    assert fixed.problem is None and fixed.applied_to("legal/a.pdf").rule.languages == ("es",)
    assert store.cleared == 2  # on the first good read, and once the bad one was replaced


def test_a_cold_instance_with_only_a_bad_document_applies_no_rules_and_says_so():
    store = Store()
    store.put({"rules": [{"prefix": "a/", "languages": ["xx"]}]}, "v9")
    in_force = store.keeper().load()
    assert in_force.document is NO_RULES and in_force.applied_to("a/b.txt") is None
    [reason] = store.flags
    assert "'xx'" in reason and "no rules apply" in reason


def test_no_rules_blob_means_no_rules_and_storage_out_of_reach_keeps_the_last_good(caplog):
    store = Store()
    keeper = store.keeper()
    assert keeper.load().applied_to("legal/a.pdf") is None
    store.put(GOOD, "v1")
    assert keeper.load().applied_to("x.txt").version == "v1"  # no rule matched, in document v1
    store.failing = True
    with caplog.at_level(logging.WARNING):
        assert keeper.load().applied_to("legal/a.pdf").prefix == "legal/"
    assert store.flags == []  # storage failing is no bad document: no flag, and no rules alert
    assert "still apply" in caplog.text
    assert not [r for r in caplog.records if getattr(r, "event", None) == "translation.rules_rejected"]


def test_storage_out_of_reach_before_any_rules_were_read_is_raised_for_the_platform_to_retry():
    store = Store()
    store.failing = True
    with pytest.raises(ServiceRequestError):
        store.keeper().load()
