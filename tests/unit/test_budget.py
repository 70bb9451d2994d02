"""The character budget's windows and when files waiting for it are looked at again."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from shared.pipeline import budget
from shared.settings import Settings


def settings_with(**budgets: str) -> Settings:
    return Settings.from_env(
        {"TRANSLATION_STORAGE": "UseDevelopmentStorage=true", "TRANSLATOR_ENDPOINT": "http://x", **budgets}
    )


def test_groupers_blocked_within_one_recheck_share_one_next_look_never_past_the_window():
    settings = settings_with(CHARACTER_BUDGET_PER_DAY="10")
    moment = datetime(2026, 12, 2, 10, 0, 5, tzinfo=UTC)
    spends = [budget.Spend(window, 10) for window in budget.windows(settings, moment)]
    first = budget.next_look(spends, moment)
    assert first == budget.next_look(spends, moment + timedelta(seconds=40))
    assert moment + budget.RECHECK <= first <= moment + 2 * budget.RECHECK
    late = datetime(2026, 12, 2, 23, 59, 30, tzinfo=UTC)
    assert budget.next_look(spends, late) == datetime(2026, 12, 3, tzinfo=UTC)  # the day turns first
    assert spends[0].window.name == "day-2026-12-02" and spends[0].left == 0


def test_the_month_window_of_december_ends_on_the_first_of_january_and_no_budget_means_no_window():
    [month] = budget.windows(settings_with(CHARACTER_BUDGET_PER_MONTH="5"), datetime(2026, 12, 31, 23, tzinfo=UTC))
    assert month.name == "month-2026-12" and month.ends_at == datetime(2027, 1, 1, tzinfo=UTC)
    assert budget.windows(settings_with(), datetime(2026, 12, 31, tzinfo=UTC)) == ()
    assert not settings_with().budget_set


def test_a_group_is_cut_at_the_first_file_that_does_not_fit_keeping_drop_order():
    assert budget.cut_to_fit([40, 40, 40], 100) == 2
    assert budget.cut_to_fit([120, 10], 100) == 0  # the smaller file behind waits its turn
    assert budget.cut_to_fit([], 0) == 0


def test_a_budget_or_price_that_is_not_a_number_is_refused_with_the_setting_named():
    import pytest

    from shared.settings import SettingsError

    for name, value in (
        ("CHARACTER_BUDGET_PER_DAY", "lots"),
        ("CHARACTER_BUDGET_PER_MONTH", "0"),
        ("PRICE_PER_MILLION_CHARACTERS", "-1"),
    ):
        with pytest.raises(SettingsError, match=name):
            settings_with(**{name: value})
    assert settings_with(PRICE_PER_MILLION_CHARACTERS="7.5").price_per_million_characters == 7.5
