"""The faults the real world has, one scenario each (issue 7's fault matrix)."""

from __future__ import annotations

import json
import time
from collections.abc import Callable

from chaos.harness import Run, Scenario
from devstack.storage_proxy import Faults
from shared.pipeline.context import RULES_TTL_SECONDS
from shared.pipeline.rules import RULES_TROUBLE
from shared.storage.clients import StorageClients
from shared.storage.record_table import RecordTable

Act = Callable[[Run], None]

# Slow enough that a second version arrives while the first is still being translated.
SLOW_DOCUMENTS = ["--document-seconds", "2"]
TEN_LANGUAGES = "fr,de,es,it,ja,zh-Hans,zh-Hant,pt,nl,pl"


def names(prefix: str, count: int) -> list[str]:
    return [f"{prefix}/doc{index:02d}.txt" for index in range(count)]


def plain_drops(count: int) -> Act:
    def act(run: Run) -> None:
        run.drop_many(names("plain", count))

    return act


def host_killed_again_and_again(rounds: int, per_round: int = 3) -> Act:
    def act(run: Run) -> None:
        for number in range(rounds):
            run.drop_many(names(f"round{number:02d}", per_round))
            time.sleep(1.0 + (number % 3) * 0.5)
            run.restart_host(kill=True)

    return act


def emulator_restarted_mid_run(count: int) -> Act:
    def act(run: Run) -> None:
        run.drop_many(names("restart", count))
        time.sleep(3)  # jobs submitted, some documents done, others in progress
        run.restart_emulator()

    return act


def storage_stopped(count: int, seconds: float = 30) -> Act:
    def act(run: Run) -> None:
        run.drop_many(names("before", count))
        time.sleep(1)
        run.stack.stop_storage()
        time.sleep(seconds)
        run.stack.start_storage()
        run.drop_many(names("after", count // 2))

    return act


def overwrites_in_flight(count: int) -> Act:
    def act(run: Run) -> None:
        files = names("versions", count)
        run.drop_many(files)
        time.sleep(1.5)  # the first versions are being translated
        run.drop_many(files)

    return act


def long_names(count: int) -> Act:
    def act(run: Run) -> None:
        run.drop_many([f"長い/{index}-" + "日本語" * 300 + ".txt" for index in range(count)], languages=TEN_LANGUAGES)

    return act


def bad_glossaries(count: int) -> Act:
    def act(run: Run) -> None:
        glossaries = run.container(run.settings.glossary_container)
        glossaries.upload_blob("fr.csv", bytes(range(256)) * 8, overwrite=True)  # unreadable
        glossaries.upload_blob("de.tsv", b"one\ttwo\tthree\tfour\n", overwrite=True)  # wrong columns
        run.drop_many(names("glossary", count))

    return act


def unsupported_languages(count: int) -> Act:
    def act(run: Run) -> None:
        run.drop_many(names("languages", count), languages="fr,xx-yy")
        run.drop_many(names("casing", count), languages="FR,zh-hans")

    return act


def wrong_key_then_right(count: int) -> Act:
    def act(run: Run) -> None:
        run.drop_many(names("key", count))
        time.sleep(6)  # every drop is refused and waits
        run.restart_host(kill=False, env={"TRANSLATOR_KEY": run.stack.config.emulator_key})

    return act


def bulk_with_an_instance_killed(count: int) -> Act:
    """A bulk drop (AzCopy: 16 uploads at a time) on three instances; the one holding the timers
    and standing in for Event Grid is killed while files are being recorded, and comes back."""

    def act(run: Run) -> None:
        run.drop_many(names("bulk", count), parallel=16)
        deadline = time.monotonic() + 120
        while run.recorded_count() < count // 5 and time.monotonic() < deadline:
            time.sleep(0.5)
        run.stack.stop_host(0, kill=True)
        time.sleep(10)
        run.stack.start_host(0)

    return act


def bulk_drop(count: int, parallel: int = 16) -> Act:
    def act(run: Run) -> None:
        run.drop_many(names("bulk", count), parallel=parallel)

    return act


def repeats_of_the_same_bytes(count: int) -> Act:
    """Metadata changes while the first versions are translated and after they were recorded, the
    same bytes uploaded again, and copies under other names: none of them may cost a job."""

    def act(run: Run) -> None:
        originals = run.drop_many(names("repeat", count))
        third = max(1, count // 3)
        time.sleep(1.0)  # the first versions are being translated
        for version in originals[:third]:
            run.change_metadata(version.name)
        run.wait_until_recorded(120)
        for version in originals[third : 2 * third]:
            run.upload_again(version.name)
        for version in originals[2 * third :]:
            run.upload_again(version.name, as_name=version.name.replace("repeat/", "copies/"))
            run.change_metadata(version.name)

    return act


def outcome_sink_down(count: int, seconds: float = 30) -> Act:
    """The outcomes queue is gone for a while (files are recorded meanwhile), then back; files keep
    arriving before, during and after."""

    def act(run: Run) -> None:
        run.drop_many(names("before-sink", count // 2))
        run.wait_until_recorded(60)
        run.outcome_sink_down()
        run.drop_many(names("sink-down", count))
        run.wait_until_recorded(60)  # recorded while the sink is down: their events are owed
        time.sleep(max(0.0, seconds - 10))
        run.outcome_sink_back()
        run.drop_many(names("after-sink", count // 2))

    return act


# Rules per folder: files under `ruled/` get es; every other file TARGET_LANGUAGES (fr,de).
RULED_PREFIX = "ruled/"
GOOD_RULES = json.dumps({"rules": [{"prefix": RULED_PREFIX, "languages": ["es"]}]})
RULES_SETTINGS = {"RULES_BLOB": "glossaries/rules.json"}
# An instance reads the rules document again once its copy is a minute old.
RULES_REREAD_SECONDS = RULES_TTL_SECONDS + 2


def languages_under_good_rules(name: str) -> list[str]:
    return ["es"] if name.startswith(RULED_PREFIX) else ["fr", "de"]


def bad_rules_document_mid_run(count: int) -> Act:
    """The rules document is replaced by one that does not parse while files are translated, and then
    by one naming a language the service lacks; once the instance has read each (its cache lasts a
    minute), more files land: all are translated under the last good rules, and the bad document is
    flagged as the app's trouble."""

    def act(run: Run) -> None:
        container, _, name = RULES_SETTINGS["RULES_BLOB"].partition("/")
        rules = run.container(container).get_blob_client(name)
        rules.upload_blob(GOOD_RULES.encode(), overwrite=True)
        run.drop_many([*names("ruled/first", count), *names("plain/first", count)])
        time.sleep(1.0)  # those are being translated
        rules.upload_blob(b'{"rules": [{"prefix": "ruled/", "languages": ["es"]', overwrite=True)  # cut short
        time.sleep(RULES_REREAD_SECONDS)
        run.drop_many([*names("ruled/after-bad-json", count), *names("plain/after-bad-json", count)])
        unknown = json.dumps({"rules": [{"prefix": RULED_PREFIX, "languages": ["xx-unknown"]}]})
        rules.upload_blob(unknown.encode(), overwrite=True)
        time.sleep(RULES_REREAD_SECONDS)
        run.drop_many([*names("ruled/after-unknown", count), *names("plain/after-unknown", count)])
        run.wait_until_recorded(120)
        trouble = RecordTable(StorageClients(run.settings).records_table).state.get_trouble(RULES_TROUBLE)
        if trouble is None or "xx-unknown" not in trouble.reason:
            raise AssertionError(f"the bad rules document is not flagged as the app's trouble: {trouble}")

    return act


def all_scenarios(scale: int = 1) -> list[Scenario]:
    """Every scenario; `scale` multiplies the file counts (1: about 10 minutes in all)."""
    n = 10 * scale
    return [
        Scenario(
            "3x concurrent delivery",
            plain_drops(2 * n),
            host_args=["--event-deliveries", "3", "--concurrent-deliveries"],
        ),
        Scenario(
            "target events lost, duplicated and early",
            plain_drops(3 * n),
            # A 20 s backstop, not the chaos runs' 1 s: the written translations' events do the work.
            settings={"POLL_SCHEDULE": "*/20 * * * * *"},
            emulator_args=["--status-lag-seconds", "1.5"],
            host_args=[
                "--lose-events",
                "notice_translation_written=0.3",
                "--duplicate-rate",
                "0.5",
                "--concurrent-deliveries",
            ],
        ),
        Scenario("20% 5xx", plain_drops(2 * n), emulator_args=["--fault-rate", "0.2", "--seed", "7"]),
        Scenario("429 storm (Retry-After)", plain_drops(2 * n), emulator_args=["--rate-limit", "4"]),
        Scenario(
            "20% lost answers",
            plain_drops(2 * n),
            emulator_args=["--lost-answer-rate", "0.2", "--list-delay-seconds", "1", "--seed", "11"],
        ),
        Scenario("10 kill -9 of the host", host_killed_again_and_again(10, max(1, n // 4))),
        Scenario("emulator restart mid-run", emulator_restarted_mid_run(n), emulator_args=SLOW_DOCUMENTS),
        Scenario("storage down 30 s", storage_stopped(n), persistent_storage=True, timeout=240),
        Scenario("outcome events sink down 30 s", outcome_sink_down(n), outcome_events=True, timeout=200),
        Scenario("overwrites in flight", overwrites_in_flight(n), emulator_args=SLOW_DOCUMENTS),
        Scenario(
            "metadata changes and identical re-uploads",
            repeats_of_the_same_bytes(2 * n),
            emulator_args=SLOW_DOCUMENTS,
            timeout=200,
        ),
        Scenario(
            "metadata changes and identical re-uploads, REUSE_TRANSLATIONS=off (baseline)",
            repeats_of_the_same_bytes(2 * n),
            settings={"REUSE_TRANSLATIONS": "off"},
            emulator_args=SLOW_DOCUMENTS,
            timeout=200,
            baseline=True,
        ),
        Scenario(
            "overwrites in flight, 30% lost answers",
            overwrites_in_flight(n),
            emulator_args=[*SLOW_DOCUMENTS, "--lost-answer-rate", "0.3", "--seed", "5"],
        ),
        Scenario("long non-ASCII names, 10 languages", long_names(max(2, n // 2))),
        Scenario("bad glossaries", bad_glossaries(n)),
        Scenario(
            "bad rules document uploaded mid-run",
            bad_rules_document_mid_run(max(2, n // 2)),
            settings=RULES_SETTINGS,
            languages_for=languages_under_good_rules,
            timeout=300,
        ),
        Scenario("unsupported languages", unsupported_languages(max(2, n // 2))),
        Scenario("wrong key, then the right one", wrong_key_then_right(n), settings={"TRANSLATOR_KEY": "wrong-key"}),
        Scenario(
            "3 instances, one killed, 20% duplicate deliveries",
            bulk_with_an_instance_killed(200 * n),
            instances=3,
            host_args=["--duplicate-rate", "0.2", "--concurrent-deliveries"],
            timeout=600,
        ),
        Scenario(
            "storage answers lost (5% busy, 10% of writes)",
            bulk_drop(10 * n, parallel=4),
            storage_faults=Faults(busy_rate=0.05, lost_write_rate=0.1, seed=13),
            on_time=True,
            timeout=300,
        ),
        Scenario(
            "bulk under a 10 requests/s service limit",
            bulk_drop(50 * n),
            instances=3,
            emulator_args=["--rate-limit", "10"],
            timeout=300,
        ),
    ]
