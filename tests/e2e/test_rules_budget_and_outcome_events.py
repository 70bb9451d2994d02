"""Rules per folder, the character budget and outcome events on the whole local stack: Azurite, the
emulator and the local functions host, each its own process."""

from __future__ import annotations

import base64
import json
import time
from pathlib import Path

import pytest

from devstack.dropping import drop_files, wait_for_final_records
from devstack.stack import LocalStack
from shared.storage.clients import StorageClients
from shared.storage.record_table import RecordTable
from shared.storage.records import ReasonCode, State
from tests.e2e.conftest import running_stack

pytestmark = pytest.mark.e2e

RULES = {"rules": [{"prefix": "ruled/", "languages": ["es"]}]}


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory):
    settings = {
        "POLL_SCHEDULE": "*/1 * * * * *",
        "TARGET_LANGUAGES": "fr,de",
        "RULES_BLOB": "glossaries/rules.json",
        # 2 languages x 40 characters fit; 2 x 400 more do not (the day's window).
        "CHARACTER_BUDGET_PER_DAY": "600",
    }
    with running_stack(Path(tmp_path_factory.mktemp("stack")), settings, ["--watch-interval", "0.3"]) as running:
        rules = json.dumps(RULES).encode()
        StorageClients(running.settings).container("glossaries").upload_blob("rules.json", rules, overwrite=True)
        yield running


def outcome_events(stack: LocalStack, *, wait_for: int, timeout: float = 60) -> list[dict]:
    queue = StorageClients(stack.settings).outcome_queue
    events: list[dict] = []
    deadline = time.monotonic() + timeout
    while len(events) < wait_for and time.monotonic() < deadline:
        for message in queue.peek_messages(max_messages=32):
            text = message.content
            try:
                envelope = json.loads(text)
            except json.JSONDecodeError:
                envelope = json.loads(base64.b64decode(text))
            if envelope["id"] not in {event["id"] for event in events}:
                events.append(envelope)
        time.sleep(0.5)
    return events


def test_a_folder_rule_applies_and_each_final_record_publishes_one_outcome_event(stack, tmp_path):
    folder = tmp_path / "files"
    folder.mkdir()
    (folder / "a.txt").write_bytes(b"Under a rule.")
    (folder / "b.txt").write_bytes(b"Under none.")
    ruled = drop_files(stack.settings, [folder / "a.txt"], prefix="ruled/")
    plain = drop_files(stack.settings, [folder / "b.txt"], prefix="plain/")

    records = wait_for_final_records(stack.settings, ruled + plain, timeout=120)
    assert len(records) == 2, f"missing records; logs in {stack.logs}"
    under_rule, under_none = records[ruled[0].key], records[plain[0].key]
    assert under_rule.outcome == "Succeeded" and under_rule.languages == ["es"] and under_rule.rule == "ruled/"
    assert under_none.outcome == "Succeeded" and sorted(under_none.languages) == ["de", "fr"]
    assert under_none.rule is None

    events = outcome_events(stack, wait_for=2)
    by_id = {event["id"]: event for event in events}
    assert set(by_id) >= {f"{under_rule.key}:Succeeded", f"{under_none.key}:Succeeded"}
    event = by_id[f"{under_rule.key}:Succeeded"]
    assert event["specversion"] == "1.0" and event["subject"].endswith("/ruled/a.txt")
    assert [language["language"] for language in event["data"]["languages"]] == ["es"]


def test_a_file_past_the_character_budget_waits_with_its_reason_and_nothing_is_lost(stack, tmp_path):
    folder = tmp_path / "budget"
    folder.mkdir()
    (folder / "small.txt").write_bytes(b"s" * 40)
    (folder / "large.txt").write_bytes(b"l" * 400)
    small = drop_files(stack.settings, [folder / "small.txt"], prefix="budget/")
    records = wait_for_final_records(stack.settings, small, timeout=120)
    assert records[small[0].key].outcome == "Succeeded", f"logs in {stack.logs}"

    large = drop_files(stack.settings, [folder / "large.txt"], prefix="budget/")
    table = RecordTable(StorageClients(stack.settings).records_table)
    deadline = time.monotonic() + 60
    record = table.get_open(large[0].key)
    while (record is None or record.reason_code != ReasonCode.BUDGET_EXCEEDED) and time.monotonic() < deadline:
        time.sleep(0.5)
        record = table.get_open(large[0].key)
    assert record is not None and record.state is State.WAITING, record
    assert record.reason_code == ReasonCode.BUDGET_EXCEEDED and record.needs_attention
    assert record.estimated_characters == 800 and record.estimate_method == "text"  # 400 x fr, de
    assert table.get_final(large[0].key) is None  # waiting, never rejected for the budget
