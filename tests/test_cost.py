"""Severity-weighted incident-hours and users affected: unknown stays unknown."""

from datetime import UTC, datetime, timedelta

from incidents.analysis.cost import HOURS_CAP, total_cost, weighted_hours

T0 = datetime(2026, 3, 1, 12, tzinfo=UTC)


def test_an_hour_of_sev1_outweighs_an_hour_of_sev3():
    one_hour = (T0, T0 + timedelta(hours=1))
    assert weighted_hours("sev1", *one_hour) > weighted_hours("sev3", *one_hour)


def test_a_fortnight_long_slowdown_does_not_count_for_a_fortnight():
    assert weighted_hours("sev3", T0, T0 + timedelta(days=14)) == HOURS_CAP


def test_unknown_severity_dates_or_users_are_counted_as_unknown_not_as_zero():
    cost = total_cost(
        [
            ("sev2", T0, T0 + timedelta(hours=2), 1200),
            ("unknown", T0, T0 + timedelta(hours=5), None),
            ("sev1", None, T0, None),
        ]
    )
    assert cost.incidents == 3
    assert cost.weighted_hours == 8.0  # only the SEV2: 2 hours at weight 4
    assert cost.weighted_hours_unknown == 2
    assert cost.users_affected == 1200
    assert cost.users_affected_unknown == 2


def test_no_known_count_means_users_affected_is_unknown():
    assert total_cost([("sev3", T0, T0, None)]).users_affected is None
