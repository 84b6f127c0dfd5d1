"""What a chart covers: ranges normalised to local days and months, neighbours, refusals."""

from __future__ import annotations

import pytest

from zevvy_server.clock import Clock
from zevvy_server.console.charts import Range, chart_range, links, shifted, zoomed_out
from zevvy_server.errors import ZevvyError
from zevvy_server.metering.values import parse_instant


def _range(**values: str) -> Range:
    """A consumption-per-day range unless `values` say otherwise."""
    return chart_range(
        view=values.get("view", "consumption"),
        interval=values.get("interval", "day"),
        from_text=values.get("from_text"),
        to_text=values.get("to_text"),
        until=values.get("until"),
        latest_us=None,
        clock=Clock(),
    )


def test_a_day_chart_covers_whole_local_days_even_after_a_zoom_to_instants() -> None:
    """Instants inside 31 March and 1 April widen to those local days; 31 March has 23 hours."""
    rng = chart_range(
        view="consumption",
        interval="day",
        from_text="2024-03-31T10:00:00Z",
        to_text="2024-04-01T03:00:00Z",
        until=None,
        latest_us=None,
        clock=Clock(),
    )
    assert (rng.from_text, rng.to_text, rng.until_date) == ("2024-03-31", "2024-04-02", "2024-04-01")
    assert rng.from_us == parse_instant("2024-03-30T23:00:00Z")
    assert rng.to_us == parse_instant("2024-04-01T22:00:00Z")


def test_the_forms_inclusive_until_becomes_the_exclusive_end() -> None:
    """until=2024-03-31 means up to local midnight of 1 April."""
    rng = chart_range(
        view="readings",
        interval=None,
        from_text="2024-03-30",
        to_text=None,
        until="2024-03-31",
        latest_us=None,
        clock=Clock(),
    )
    assert rng.to_text == "2024-04-01" and rng.view == "readings"


def test_without_a_range_the_chart_ends_with_the_latest_reading() -> None:
    """Seven days up to the local day of the last reading, for raw readings."""
    rng = chart_range(
        view="readings",
        interval=None,
        from_text=None,
        to_text=None,
        until=None,
        latest_us=parse_instant("2024-03-31T21:59:00Z"),
        clock=Clock(),
    )
    assert (rng.from_text, rng.to_text) == ("2024-03-25", "2024-04-01")


def test_month_charts_move_by_whole_months() -> None:
    """Earlier and later keep the number of months; zooming out widens around the middle."""
    rng = chart_range(
        view="consumption",
        interval="month",
        from_text="2024-03-15",
        to_text=None,
        until="2024-04-02",
        latest_us=None,
        clock=Clock(),
    )
    assert (rng.from_text, rng.to_text) == ("2024-03-01", "2024-05-01")
    assert (shifted(rng, -1).from_text, shifted(rng, -1).to_text) == ("2024-01-01", "2024-03-01")
    assert (shifted(rng, 1).from_text, shifted(rng, 1).to_text) == ("2024-05-01", "2024-07-01")
    assert zoomed_out(rng).from_text < rng.from_text


@pytest.mark.parametrize(
    ("values", "problem"),
    [
        ({"from_text": "2024-02-30"}, "invalid_date"),
        ({"from_text": "yesterday", "to_text": "2024-01-01"}, "invalid_instant"),
        ({"from_text": "2024-03-02", "to_text": "2024-03-01", "view": "readings"}, "empty_range"),
        ({"interval": "15min", "from_text": "2020-01-01", "to_text": "2024-01-01"}, "too_many_points"),
    ],
)
def test_ranges_a_chart_cannot_show_are_refused_with_a_reason(values: dict[str, str], problem: str) -> None:
    """A domain error with a pointer, shown next to the chart, never a server error."""
    with pytest.raises(ZevvyError) as refused:
        _range(**values)
    assert refused.value.details[0]["problem"] == problem


def test_links_at_the_end_of_the_calendar_stay_put() -> None:
    """There is nothing after 9999-12-31: the later link shows the same range."""
    rng = _range(from_text="9999-12-30", to_text="9999-12-31")
    assert "from=9999-12-30" in links("/x", rng)["next"]
