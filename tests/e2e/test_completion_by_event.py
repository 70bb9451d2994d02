"""A job is recorded because its translations were written: the poll's timer, set to tick once a
year here, never runs, and every file still ends with its record within seconds."""

from __future__ import annotations

from pathlib import Path

import pytest

from devstack.dropping import drop_files, wait_for_final_records
from devstack.stack import LocalStack, StackConfig

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def quiet_poll_stack(tmp_path_factory: pytest.TempPathFactory):
    config = StackConfig.on_free_ports(
        Path(tmp_path_factory.mktemp("stack")),
        settings_overrides={"POLL_SCHEDULE": "0 0 0 1 1 *", "TARGET_LANGUAGES": "fr,de"},
        host_args=["--watch-interval", "0.3"],
    )
    running = LocalStack(config).start()
    try:
        yield running
    finally:
        running.stop()


def test_files_are_recorded_by_their_written_translations_without_a_poll(quiet_poll_stack, tmp_path):
    folder = tmp_path / "drop"
    folder.mkdir()
    paths = []
    for index in range(12):
        path = folder / f"note{index:02d}.txt"
        path.write_bytes(f"Hello number {index}.\n".encode())
        paths.append(path)
    settings = quiet_poll_stack.settings

    dropped = drop_files(settings, paths, prefix="events/")
    records = wait_for_final_records(settings, dropped, timeout=90)

    assert len(records) == len(dropped), f"missing records; logs in {quiet_poll_stack.logs}"
    assert {record.outcome for record in records.values()} == {"Succeeded"}
    host_log = next(Path(quiet_poll_stack.logs).glob("host*.log")).read_text(errors="replace")
    assert "noticed by its written translations" in host_log
