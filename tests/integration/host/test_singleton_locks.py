"""Timers on one instance of several, as the Functions host keeps them: a blob lease in the host's
storage, held by one instance, taken over by another when the holder lets go or dies."""

from __future__ import annotations

import threading
import time

import pytest

from devstack.azurite import Azurite
from devstack.host.connections import StorageConnection
from devstack.host.singleton import SingletonLock, SingletonOptions
from tests.integration.host.hostkit import eventually, unique_name

pytestmark = pytest.mark.integration

QUICK = SingletonOptions(lock_period_seconds=15, recovery_interval_seconds=0.5)


def lock(azurite: Azurite, host_id: str, stop: threading.Event) -> SingletonLock:
    storage = StorageConnection("AzureWebJobsStorage", azurite.connection_string)
    return SingletonLock(storage, host_id, "poll", QUICK, stop=stop).start()


def test_one_instance_holds_a_timer_and_another_takes_it_once_let_go(azurite):
    host_id = unique_name("host")
    first_stop, second_stop = threading.Event(), threading.Event()
    first = lock(azurite, host_id, first_stop)
    eventually(lambda: first.held, what="the first instance holding the lock")
    second = lock(azurite, host_id, second_stop)
    try:
        time.sleep(4 * QUICK.recovery_interval_seconds)  # the second tries a few times meanwhile
        assert first.held and not second.held
        first_stop.set()  # stops: the lease is let go at once
        eventually(lambda: second.held, timeout=5, what="the second instance taking over")
        assert first.blob_name == f"locks/{host_id}/Host.Functions.poll.Listener"
    finally:
        first_stop.set()
        second_stop.set()


def test_the_lock_of_an_instance_that_died_is_taken_once_its_lease_runs_out(azurite, monkeypatch):
    host_id = unique_name("host")
    dead_stop, live_stop = threading.Event(), threading.Event()
    dead = lock(azurite, host_id, dead_stop)
    eventually(lambda: dead.held, what="the first instance holding the lock")
    live = lock(azurite, host_id, live_stop)
    try:
        monkeypatch.setattr(dead, "release", lambda: None)  # killed: it never lets go
        dead_stop.set()
        assert not live.held
        eventually(lambda: live.held, timeout=QUICK.lock_period_seconds + 5, what="the lease running out")
    finally:
        live_stop.set()
