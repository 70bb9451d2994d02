"""The fast cases of the fault matrix (`make chaos` runs them all, bigger): on the whole local
stack, each fault leaves nothing lost, nothing translated twice, no older translation published
and no failure without a reason."""

import pytest

from chaos.harness import Scenario, run_scenario
from chaos.scenarios import SLOW_DOCUMENTS, emulator_restarted_mid_run, long_names, overwrites_in_flight, plain_drops

pytestmark = pytest.mark.e2e


@pytest.mark.parametrize(
    "scenario",
    [
        Scenario("lost answers", plain_drops(4), emulator_args=["--lost-answer-rate", "0.5", "--seed", "3"]),
        Scenario("overwrite in flight", overwrites_in_flight(2), emulator_args=SLOW_DOCUMENTS),
        Scenario("long non-ASCII name, 10 languages", long_names(1)),
        Scenario("emulator restart", emulator_restarted_mid_run(3), emulator_args=SLOW_DOCUMENTS),
    ],
    ids=lambda scenario: scenario.name,
)
def test_the_promises_hold_under_the_fault(scenario, tmp_path):
    row = run_scenario(scenario, workdir=tmp_path)
    assert row.files and row.promises_kept, row
    assert row.outcomes.get("Succeeded", 0) + row.outcomes.get("Superseded", 0) == row.files, row
