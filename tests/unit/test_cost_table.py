"""The README's cost table says what bench/costs.py computes from the billing rules, at the
settings' defaults."""

from __future__ import annotations

from pathlib import Path

from bench import costs
from shared.settings import SETTINGS_SPEC

README = (Path(__file__).parents[2] / "README.md").read_text()
DEFAULTS = {spec.name: spec.default for spec in SETTINGS_SPEC}


def cost_table() -> str:
    start = README.index("### What a month costs")
    return README[start : README.index("\n### ", start + 1)]


def test_a_schedule_is_counted_by_its_runs_in_a_31_day_month():
    assert costs.executions_per_month("*/5 * * * * *") == 12 * 60 * 24 * 31
    assert costs.executions_per_month("0 */2 * * * *") == 30 * 24 * 31
    assert costs.executions_per_month("0 0 8-17 * * *") == 10 * 31
    assert costs.seconds_between_ticks("0 */2 * * * *") == 120


def test_the_idle_month_at_the_default_settings_is_inside_the_free_grant_and_in_the_readme():
    idle = costs.idle_month(str(DEFAULTS["POLL_SCHEDULE"]), str(DEFAULTS["CATCH_UP_SCHEDULE"]))
    assert idle.inside_free_grant and idle.compute_dollars == 0
    table = cost_table()
    assert f"**{idle.executions:,}**" in table
    assert f"= **{idle.gb_seconds:,.0f}**" in table
    assert f"**about ${idle.storage_dollars:.2f}**" in table


def test_ten_thousand_files_cost_what_the_readme_says():
    month = costs.month_with_files(
        str(DEFAULTS["POLL_SCHEDULE"]), str(DEFAULTS["CATCH_UP_SCHEDULE"]), files=10_000, languages=2
    )
    table = cost_table()
    assert f"= **{month.executions:,}**" in table
    assert f"= **{month.gb_seconds:,.0f}**" in table
    assert f"**${month.compute_dollars:.2f}**" in table
    assert f"**${month.storage_dollars:.2f}** in all" in table
    assert f"**about ${month.compute_dollars + month.storage_dollars:.2f}**" in table


def test_the_previous_five_second_poll_is_costed_as_the_readme_says():
    before = costs.idle_month("*/5 * * * * *", str(DEFAULTS["CATCH_UP_SCHEDULE"]))
    table = cost_table()
    figures = f"{before.executions:,} executions, {before.gb_seconds:,.0f} GB-s: **${before.compute_dollars:.2f}**"
    assert figures in table
