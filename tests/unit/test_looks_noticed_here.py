"""What one instance remembers between written translations' events: one invocation per job waits
for a promised look, the others leave it to that one."""

from datetime import UTC, datetime, timedelta

from shared.pipeline.translation_written_memo import LooksNoticedHere

AT = datetime(2026, 12, 2, 12, 0, tzinfo=UTC)


def test_one_invocation_per_job_keeps_a_promised_look():
    here = LooksNoticedHere()
    assert here.start_keeping("job-a", AT)
    assert not here.start_keeping("job-a", AT)  # another event of the same job: left to the first
    assert not here.start_keeping("job-a", AT - timedelta(seconds=1))
    assert here.start_keeping("job-b", AT)  # another job's promise is its own
    assert here.start_keeping("job-a", AT + timedelta(seconds=1))  # a later promise: its own waiter

    here.stop_keeping("job-a", AT)  # the first waiter ends: the later one's entry stays
    assert not here.start_keeping("job-a", AT + timedelta(seconds=1))
    here.stop_keeping("job-a", AT + timedelta(seconds=1))
    assert here.start_keeping("job-a", AT)


def test_a_promise_is_known_when_it_starts_at_or_after_the_moment_asked():
    here = LooksNoticedHere()
    here.remember_promise("job-a", AT)
    assert here.promised_after("job-a", AT - timedelta(seconds=1)) == AT
    assert here.promised_after("job-a", AT) == AT
    assert here.promised_after("job-a", AT + timedelta(seconds=1)) is None
    assert here.promised_after("job-b", AT) is None
