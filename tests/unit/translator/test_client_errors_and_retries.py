"""Error mapping, retries (429/5xx/transport), budgets, and the never-blindly-resubmit rule for POST."""

from __future__ import annotations

from email.utils import format_datetime as http_date

import httpx
import pytest

from shared.translator import (
    AuthenticationError,
    InvalidRequestError,
    NotFoundError,
    PermissionDeniedError,
    RateLimitedError,
    RetryPolicy,
    ServiceError,
    ServiceUnreachableError,
    SubmissionUncertainError,
    TranslationInput,
    TranslationTarget,
)
from shared.translator.retry import Pacer, parse_retry_after
from tests.unit.translator.conftest import (
    ENDPOINT,
    SOURCE_SAS_URL,
    TARGET_SAS_URL,
    error_body,
    json_response,
)

JOB = {"id": "job-1", "status": "Running", "summary": {"total": 1, "inProgress": 1}}


def accepted() -> httpx.Response:
    return json_response(202, headers={"Operation-Location": f"{ENDPOINT}/translator/document/batches/job-1"})


INPUTS = [TranslationInput(SOURCE_SAS_URL, (TranslationTarget(TARGET_SAS_URL, "fr"),))]


@pytest.mark.parametrize(
    ("status", "error_class", "code", "inner_code"),
    [
        (400, InvalidRequestError, "InvalidRequest", "InvalidDocumentAccessLevel"),
        (401, AuthenticationError, "Unauthorized", "Unauthorized"),
        (403, PermissionDeniedError, "Forbidden", None),
        (404, NotFoundError, "ResourceNotFound", "BatchNotFound"),
    ],
)
def test_client_errors_are_mapped_and_not_retried(
    status, error_class, code, inner_code, service, make_client, fake_time
):
    service.add(json_response(status, error_body(code, "it went wrong", inner_code, target="Operation")))

    with pytest.raises(error_class) as caught:
        make_client().get_translation_status("job-1")

    error = caught.value
    assert len(service.requests) == 1
    assert fake_time.sleeps == []
    assert (error.status_code, error.code, error.inner_code, error.target) == (status, code, inner_code, "Operation")
    assert error.message.startswith("it went wrong")
    expected_codes = f"{code}/{inner_code}" if inner_code else code
    assert str(error).startswith(f"{status} {expected_codes}: it went wrong")


def test_a_non_json_error_body_gives_a_short_message(service, make_client):
    service.add(httpx.Response(502, text="<html><body>Bad gateway " + "x" * 500 + "</body></html>"))

    with pytest.raises(ServiceError) as caught:
        make_client(retry=RetryPolicy(max_attempts=1)).get_translation_status("job-1")

    assert caught.value.status_code == 502 and caught.value.code is None
    assert "Bad gateway" in caught.value.message and len(caught.value.message) <= 200


def test_429_is_retried_after_the_retry_after_it_asks_for(service, make_client, fake_time):
    service.add(
        json_response(429, error_body("RequestRateTooHigh", "slow down"), headers={"Retry-After": "3"}),
        json_response(429, error_body("RequestRateTooHigh", "slow down"), headers={"Retry-After": "5"}),
        json_response(200, JOB),
    )

    job = make_client().get_translation_status("job-1")

    assert job.id == "job-1"
    assert len(service.requests) == 3
    # Backoff alone would be 0.25s and 0.5s (jitter 0): Retry-After is the floor.
    assert fake_time.sleeps == [3.0, 5.0]


def test_retry_after_as_an_http_date_is_honoured():
    assert parse_retry_after(http_date_in(30), now=lambda: 1_700_000_000.0) == pytest.approx(30.0)
    assert parse_retry_after("soon") is None
    assert parse_retry_after("-4") == 0.0


def http_date_in(seconds: int) -> str:
    from datetime import UTC, datetime

    return http_date(datetime.fromtimestamp(1_700_000_000 + seconds, tz=UTC), usegmt=True)


def test_503_then_success_backs_off_exponentially(service, make_client, fake_time):
    service.add(
        json_response(503, error_body("ServiceUnavailable", "busy")),
        json_response(500, error_body("InternalServerError", "oops")),
        json_response(504),
        json_response(200, JOB),
    )

    make_client(jitter=1.0).get_translation_status("job-1")

    assert fake_time.sleeps == [0.5, 1.0, 2.0]  # base 0.5, doubling, full ceiling with jitter 1.0


def test_jitter_spreads_the_wait_within_the_upper_half(service, make_client, fake_time):
    service.add(json_response(503), json_response(503), json_response(200, JOB))
    make_client(jitter=0.0).get_translation_status("job-1")
    assert fake_time.sleeps == [0.25, 0.5]


def test_a_retry_after_past_the_budget_stops_with_the_last_error(service, fake_time, make_client):
    policy = RetryPolicy(total_budget_seconds=10, sleep=fake_time.sleep, clock=fake_time.clock, random=lambda: 0.0)
    service.add(
        json_response(429, error_body("RequestRateTooHigh", "first"), headers={"Retry-After": "4"}),
        json_response(429, error_body("RequestRateTooHigh", "second"), headers={"Retry-After": "8"}),
    )

    with pytest.raises(RateLimitedError) as caught:
        make_client(retry=policy).get_translation_status("job-1")

    assert fake_time.sleeps == [4.0]  # 4 + 8 would pass the 10s budget
    assert caught.value.message == "second" and caught.value.retry_after == 8.0


def test_max_attempts_raises_the_last_error(service, fake_time, make_client):
    policy = RetryPolicy(max_attempts=3, sleep=fake_time.sleep, clock=fake_time.clock, random=lambda: 0.0)
    service.add(*(json_response(503, error_body("ServiceUnavailable", f"try {n}")) for n in range(1, 4)))

    with pytest.raises(ServiceError, match="try 3"):
        make_client(retry=policy).get_translation_status("job-1")

    assert len(service.requests) == 3 and len(fake_time.sleeps) == 2


def test_the_delay_never_exceeds_max_delay_without_retry_after(service, fake_time, make_client):
    policy = RetryPolicy(
        max_attempts=8, base_delay=1, max_delay=4, sleep=fake_time.sleep, clock=fake_time.clock, random=lambda: 1.0
    )
    service.add(*(json_response(500) for _ in range(6)), json_response(200, JOB))

    make_client(retry=policy).get_translation_status("job-1")

    assert fake_time.sleeps == [1, 2, 4, 4, 4, 4]


def test_transport_errors_on_reads_are_retried(service, make_client, fake_time):
    service.add(httpx.ReadTimeout("timed out"), httpx.ConnectError("refused"), json_response(200, JOB))

    assert make_client().get_translation_status("job-1").id == "job-1"
    assert len(service.requests) == 3


def test_a_transport_error_that_persists_is_a_transport_error(service, fake_time, make_client):
    policy = RetryPolicy(max_attempts=2, sleep=fake_time.sleep, clock=fake_time.clock, random=lambda: 0.0)
    service.add(httpx.ConnectError("refused"), httpx.ConnectError("refused"))

    with pytest.raises(ServiceUnreachableError) as caught:
        make_client(retry=policy).get_translation_status("job-1")

    assert caught.value.status_code is None
    assert isinstance(caught.value.__cause__, httpx.ConnectError)


def test_post_after_503_is_uncertain_and_not_resubmitted(service, make_client, fake_time):
    service.add(json_response(503, error_body("ServiceUnavailable", "busy", "Overloaded")), accepted())

    with pytest.raises(SubmissionUncertainError) as caught:
        make_client().begin_translation(INPUTS)

    assert len(service.requests) == 1
    error = caught.value
    assert (error.status_code, error.code, error.inner_code) == (503, "ServiceUnavailable", "Overloaded")
    assert "uncertain" in str(error) and "reconcile" in str(error)


@pytest.mark.parametrize(
    "failure",
    [httpx.ReadTimeout("timed out"), httpx.RemoteProtocolError("peer closed"), httpx.WriteError("broken pipe")],
    ids=["read-timeout", "remote-protocol", "write-error"],
)
def test_post_after_a_transport_error_once_sent_is_uncertain(failure, service, make_client):
    service.add(failure, accepted())

    with pytest.raises(SubmissionUncertainError) as caught:
        make_client().begin_translation(INPUTS)

    assert len(service.requests) == 1
    assert caught.value.status_code is None
    assert caught.value.__cause__ is failure


@pytest.mark.parametrize(
    "first_reply",
    [
        json_response(429, error_body("RequestRateTooHigh", "slow down"), headers={"Retry-After": "2"}),
        json_response(408),
        httpx.ConnectError("refused"),
        httpx.ConnectTimeout("connect timed out"),
    ],
    ids=["429", "408", "connect-error", "connect-timeout"],
)
def test_post_is_retried_when_the_request_was_not_processed(first_reply, service, make_client):
    service.add(first_reply, accepted())

    assert make_client().begin_translation(INPUTS) == "job-1"
    assert len(service.requests) == 2


def test_post_after_400_is_an_invalid_request_not_uncertain(service, make_client):
    service.add(json_response(400, error_body("InvalidRequest", "bad target", "InvalidTargetDocumentAccessLevel")))

    with pytest.raises(InvalidRequestError) as caught:
        make_client().begin_translation(INPUTS)

    assert caught.value.inner_code == "InvalidTargetDocumentAccessLevel"
    assert len(service.requests) == 1


def test_delete_and_get_are_retried_after_5xx(service, make_client):
    service.add(json_response(502), json_response(200, {**JOB, "status": "Cancelling"}))
    assert make_client().cancel_translation("job-1").status == "Cancelling"
    assert len(service.requests) == 2


def test_a_pause_the_service_asked_for_holds_the_clients_next_call_too(service, fake_time, make_client):
    policy = RetryPolicy(max_attempts=1, sleep=fake_time.sleep, clock=fake_time.clock, random=lambda: 0.0)
    sent_at: list[float] = []

    def answer(status: int, headers: dict[str, str] | None = None):
        def reply(request: httpx.Request) -> httpx.Response:
            sent_at.append(fake_time.now)
            return json_response(status, JOB if status == 200 else error_body("RequestRateTooHigh", "x"), headers)

        return reply

    service.add(answer(429, {"Retry-After": "3"}), answer(200))
    client = make_client(retry=policy)
    with pytest.raises(RateLimitedError):
        client.get_translation_status("job-1")  # gives up at once (one attempt), but the pause stands
    assert client.get_translation_status("job-1").id == "job-1"
    assert sent_at == [1000.0, 1003.0] and fake_time.sleeps == [3.0]


def test_the_pacer_keeps_the_latest_moment_and_lets_calls_go_once_it_passed():
    now = [0.0]
    slept: list[float] = []

    def sleep(seconds: float) -> None:
        slept.append(seconds)
        now[0] += seconds

    pacer = Pacer(sleep=sleep, clock=lambda: now[0])
    assert pacer.wait() == 0.0
    pacer.hold(5)
    pacer.hold(2)  # a shorter pause asked for later does not cut the longer one short
    assert pacer.wait() == 5.0
    assert pacer.wait() == 0.0 and slept == [5.0]
