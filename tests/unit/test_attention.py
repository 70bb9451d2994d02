"""A record or submission never says it needs attention without a reason, or the reverse, after
any transition that sets or clears the flag."""

from datetime import UTC, datetime
from types import SimpleNamespace
from typing import Any

import pytest

from shared.pipeline import lifecycle, submissions
from shared.pipeline.record import _final_record
from shared.storage.records import OpenRecord, Outcome, SourceVersion, State
from shared.storage.schedule_table import Submission, SubmissionState

NOW = datetime(2026, 11, 23, tzinfo=UTC)


class _Rows:
    """Tables that accept every write as it is given."""

    def update(self, row: Any) -> Any:
        return row

    def put_due(self, entry: Any) -> None:
        pass

    def move(self, row: Any, entry: Any, done: Any = ()) -> Any:
        return row


CTX: Any = SimpleNamespace(
    now=lambda: NOW,
    records=_Rows(),
    schedule=_Rows(),
    settings=SimpleNamespace(submit_reconcile_after_seconds=60, reports_container="reports"),
)


def _agree(row: Any) -> bool:
    return row.needs_attention == (row.attention_reason is not None)


def _record(**flag: Any) -> OpenRecord:
    source = SourceVersion("source", "a.txt", "0x1", NOW, 5)
    return OpenRecord.new(source, state=State.WAITING, at=NOW, **flag)


def _submission(**flag: Any) -> Submission:
    return Submission("s-1", "source", "plan", ["fr"], {}, None, None, [], SubmissionState.SUBMITTING, NOW, **flag)


PLAN: Any = SimpleNamespace(
    digest="p", languages=["fr"], glossary_names={}, glossary_notes={}, rule=None, rules_version=None
)
FLAGGED = {"needs_attention": True, "attention_reason": "credentials refused"}
# Each transition that sets, keeps or clears the flag, and whether it leaves the row flagged given
# whether it was. An empty cause is still a cause: it flags, and the reason says so (empty).
TRANSITIONS = {
    "wait for plan": (lambda row: lifecycle.wait_for_plan(CTX, row, "no formats"), _record, None),
    "wait for plan, flagging": (lambda row: lifecycle.wait_for_plan(CTX, row, "x", attention="key=a"), _record, True),
    "wait for plan, empty cause": (lambda row: lifecycle.wait_for_plan(CTX, row, "x", attention=""), _record, True),
    "planned": (lambda row: lifecycle.planned(CTX, row, PLAN), _record, False),
    "flag": (lambda row: lifecycle.flag(CTX, row, "stuck"), _record, True),
    "final, ended well": (lambda row: _final_record(CTX, row, [], Outcome.SUCCEEDED, None, None), _record, False),
    "final, failed": (lambda row: _final_record(CTX, row, [], Outcome.FAILED, None, None), _record, None),
    "submission waits": (lambda row: submissions.wait(CTX, row, "refused"), _submission, None),
    "submission waits, flagging": (lambda row: submissions.wait(CTX, row, "x", attention="no key"), _submission, True),
    "submission waits, empty cause": (lambda row: submissions.wait(CTX, row, "x", attention=""), _submission, True),
    "submission flagged": (lambda row: submissions.flag(CTX, row, "stuck", NOW), _submission, True),
    "submitted": (lambda row: submissions.submitted(CTX, row, "job-1"), _submission, False),
}


@pytest.mark.parametrize("was_flagged", [False, True])
@pytest.mark.parametrize("name", TRANSITIONS)
def test_no_transition_leaves_the_flag_and_its_reason_disagreeing(name, was_flagged):
    transition, build, flags = TRANSITIONS[name]
    row = transition(build(**(FLAGGED if was_flagged else {})))
    assert row.needs_attention == (row.attention_reason is not None)
    assert row.needs_attention == (was_flagged if flags is None else flags)


def test_flagging_again_for_the_same_reason_writes_nothing():
    writes: list[Any] = []
    ctx: Any = SimpleNamespace(records=SimpleNamespace(update=lambda row: writes.append(row) or row))
    reason = "the job is stuck: Ocp-Apim-Subscription-Key: abc123"  # stored redacted
    flagged = lifecycle.flag(ctx, _record(), reason)
    assert lifecycle.flag(ctx, flagged, reason) is flagged
    assert len(writes) == 1
