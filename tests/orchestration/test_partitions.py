import datetime as dt

from dagster import TimeWindow

from orchestration.partitions import daily_partitions, dbt_build_vars, window_days


def test_window_days_is_inclusive_of_first_and_last_day():
    window = TimeWindow(
        dt.datetime(2026, 3, 1, tzinfo=dt.UTC), dt.datetime(2026, 3, 4, tzinfo=dt.UTC)
    )
    assert window_days(window) == (dt.date(2026, 3, 1), dt.date(2026, 3, 3))


def test_a_range_of_partitions_maps_to_one_window():
    keys = daily_partitions.get_partition_keys_in_range(
        __import__("dagster").PartitionKeyRange("2026-01-01", "2026-03-31")
    )
    assert len(keys) == 90
    window = daily_partitions.time_window_for_partition_key(keys[-1])
    assert window_days(window) == (dt.date(2026, 3, 31), dt.date(2026, 3, 31))


def test_dbt_vars_span_the_run_and_take_as_of_from_the_last_day():
    got = dbt_build_vars(
        first_day=dt.date(2026, 3, 1),
        last_day=dt.date(2026, 3, 31),
        run_id="r1",
        attribution_window_days=14,
        reporting_timezone="Europe/Berlin",
    )
    assert got == {
        "start_date": "2026-03-01",
        "as_of": "2026-03-31",
        "run_id": "r1",
        "attribution_window_days": 14,
        "reporting_timezone": "Europe/Berlin",
    }
