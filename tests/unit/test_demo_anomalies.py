"""`ecom generate --anomalies`: the anomalies change exactly the days and segments the ground truth
lists, by the size it says, reproducibly (ingestion/demo_anomalies.py)."""

from __future__ import annotations

import csv
import itertools
from datetime import date, timedelta
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from ingestion.demo_anomalies import (
    GROUND_TRUTH_COLUMNS,
    KINDS,
    OUTAGE_DAYS,
    WARM_UP_DAYS,
    Request,
    plan,
    segments,
    usual_spread,
)
from ingestion.demo_data import GenerationReport, generate_orders
from ingestion.demo_files import BROKEN_FILE_KINDS, plan_broken_files
from ingestion.demo_history import continue_orders, read_daily_orders
from ingestion.demo_shop import Shop
from ingestion.loader import scan_landing
from orchestration.cli import main

RUN = {"orders": 40_000, "days": 150, "seed": 11, "start": date(2025, 3, 1)}
REQUEST = "spike:3,drop:3,outage,lost_day"


def _lines(folder: Path) -> pd.DataFrame:
    """Every line of the folder's order files, with the day its order was placed."""
    frames = [pd.read_csv(path, dtype=str, keep_default_na=False) for path in sorted(folder.glob("orders_*.csv"))]
    lines = pd.concat(frames, ignore_index=True)
    lines["day"] = pd.to_datetime(lines.ordered_at, utc=True).dt.date.astype(str)
    placed = lines[lines.status == "completed"].groupby("order_id").day.min().rename("placed")
    return lines.join(placed, on="order_id")


def _segment_orders(lines: pd.DataFrame) -> pd.DataFrame:
    """Orders placed per day (rows) and segment (columns ``(type, value)``), zero where none."""
    sales = lines[lines.status == "completed"]
    counts = {("shop", "all"): sales.groupby("placed").order_id.nunique()}
    for segment_type, column in (("category", "category"), ("country", "country")):
        per_value = sales.groupby(["placed", column]).order_id.nunique().unstack(fill_value=0)
        counts.update({(segment_type, value): per_value[value] for value in per_value.columns})
    frame = pd.DataFrame(counts).fillna(0).astype(int)
    return frame.reindex(columns=pd.MultiIndex.from_tuples(segments()), fill_value=0)


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> tuple[GenerationReport, pd.DataFrame, pd.DataFrame]:
    """The same run without and with anomalies: its report with anomalies and the lines of both."""
    plain, injected = tmp_path_factory.mktemp("plain"), tmp_path_factory.mktemp("injected")
    generate_orders(plain, **RUN)
    report = generate_orders(injected, **RUN, anomalies=Request.parse(REQUEST))
    return report, _lines(plain), _lines(injected)


def test_request_reads_kinds_with_counts() -> None:
    request = Request.parse("spike:4, drop:2,outage,lost_day,spike", spreads=2.5)

    assert request.counts == {"spike": 5, "drop": 2, "outage": 1, "lost_day": 1}
    assert request.spreads == 2.5
    for wrong in ("surge", "spike:x", "drop:-1"):
        with pytest.raises(ValueError):
            Request.parse(wrong)
    with pytest.raises(ValueError):
        Request.parse("spike", spreads=0)


def test_plan_keeps_anomalies_apart_after_the_warm_up() -> None:
    request = Request.parse("spike:8,drop:8,outage:3,lost_day:3")
    planned = plan(request, seed=5, days=200)

    assert [anomaly.kind for anomaly in planned].count("outage") == 3
    assert {anomaly.kind for anomaly in planned} == set(KINDS)
    days = [day for anomaly in planned for day in range(anomaly.first_day, anomaly.first_day + anomaly.days)]
    assert min(days) >= WARM_UP_DAYS
    assert max(days) < 200 - 1  # never the last day
    for earlier, later in itertools.pairwise(planned):
        assert later.first_day >= earlier.first_day + earlier.days + 1, "anomalies on neighbouring days"
    for anomaly in planned:
        assert (anomaly.segment_type, anomaly.segment_value) in segments()
        assert anomaly.days == (OUTAGE_DAYS if anomaly.kind == "outage" else 1)
        if anomaly.kind == "outage":
            assert anomaly.segment_type == "category"
        if anomaly.kind == "lost_day":
            assert (anomaly.segment_type, anomaly.segment_value) == ("shop", "all")


def test_plan_depends_on_the_seed_only() -> None:
    request = Request.parse("spike:3,drop:3,outage")

    assert plan(request, seed=1, days=150) == plan(request, seed=1, days=150)
    assert plan(request, seed=1, days=150) != plan(request, seed=2, days=150)


def test_plan_refuses_more_anomalies_than_days() -> None:
    with pytest.raises(ValueError, match="do not fit"):
        plan(Request.parse("spike:30"), seed=1, days=100)
    with pytest.raises(ValueError, match="do not fit"):
        plan(Request.parse("spike"), seed=1, days=WARM_UP_DAYS + 1)


def test_usual_spread_is_the_residual_around_the_weekly_pattern() -> None:
    weeks = WARM_UP_DAYS // 7
    week_level = 100 + 5 * np.arange(weeks)[:, None]  # growth counts as level, not spread
    weekday = np.array([0, -2, -1, 0, 3, 10, 12])[None, :]  # the weekend peak neither
    rng = np.random.default_rng(0)
    noise = rng.normal(0, 4, (weeks, 7))
    noise = noise - noise.mean(axis=1, keepdims=True) - noise.mean(axis=0, keepdims=True) + noise.mean()
    series = (week_level + weekday + noise).ravel()

    expected = np.sqrt((noise**2).sum() / ((weeks - 1) * 6))
    assert usual_spread(np.concatenate([[1_000.0] * 10, series])) == pytest.approx(expected)  # only the last 8 weeks
    assert usual_spread((week_level + weekday).ravel()) == 1.0  # at least one order


def test_only_the_listed_days_and_segments_change(runs) -> None:
    report, plain, injected = runs
    before, after = _segment_orders(plain), _segment_orders(injected)
    after = after.reindex(index=before.index, fill_value=0)
    listed = {(row.day, row.segment_type, row.segment_value): row for row in report.anomalies}
    changed_days = {day for day, _, _ in listed}

    other_days = [day for day in before.index if day not in changed_days]
    pd.testing.assert_frame_equal(after.loc[other_days], before.loc[other_days])
    for (day, segment_type, value), row in listed.items():
        assert before.loc[day, (segment_type, value)] == row.expected_orders
        assert after.loc[day, (segment_type, value)] == row.injected_orders
        if segment_type != "shop":  # the other values of the segment type keep their orders
            others = [column for column in segments() if column[0] == segment_type and column[1] != value]
            pd.testing.assert_series_equal(after.loc[day, others], before.loc[day, others])


def test_other_days_keep_every_line_but_the_order_numbers(runs) -> None:
    report, plain, injected = runs
    changed_days = {row.day for row in report.anomalies}
    content = [column for column in plain.columns if column != "order_id"]

    def unchanged(lines: pd.DataFrame) -> pd.DataFrame:
        kept = lines[~lines.placed.isin(changed_days)][content]
        return kept.sort_values(content).reset_index(drop=True)

    pd.testing.assert_frame_equal(unchanged(injected), unchanged(plain))


def test_spikes_and_drops_move_by_the_spreads_asked_for(runs) -> None:
    report, _, _ = runs
    kinds = {row.kind for row in report.anomalies}
    assert kinds == set(KINDS)
    for row in report.anomalies:
        change = row.injected_orders - row.expected_orders
        if row.kind == "spike":
            assert change >= 3 * row.usual_spread
        elif row.kind == "drop":
            assert change <= -3 * row.usual_spread or row.injected_orders == 0
        else:
            assert row.injected_orders == 0
    outage_days = [row.day for row in report.anomalies if row.kind == "outage"]
    assert len(outage_days) == OUTAGE_DAYS
    first = date.fromisoformat(outage_days[0])
    assert outage_days == [(first + timedelta(days=offset)).isoformat() for offset in range(OUTAGE_DAYS)]


def test_a_lost_day_has_no_file_and_its_other_lines_come_next_day(runs) -> None:
    report, plain, injected = runs
    (lost,) = [row.day for row in report.anomalies if row.kind == "lost_day"]
    file_days = {file.path.name[len("orders_") : len("orders_YYYY-MM-DD")] for file in report.files}

    assert lost not in file_days
    assert len(file_days) == RUN["days"] - 1
    assert (injected.placed == lost).sum() == 0
    # the returns and cancellations dated that day of orders placed before it are still delivered
    carried = plain[(plain.day == lost) & (plain.placed < lost)]
    assert len(carried) > 0
    assert len(injected[(injected.day == lost) & (injected.placed < lost)]) == len(carried)


def test_orders_stay_numbered_in_the_order_they_were_placed(runs) -> None:
    report, _, injected = runs
    sales = injected[injected.status == "completed"]
    placed_at = sales.groupby("order_id").ordered_at.min().sort_index()
    numbers = placed_at.index.str[4:].astype(int)

    assert list(numbers) == list(range(1, len(numbers) + 1))  # no gap, no overlap
    assert placed_at.is_monotonic_increasing
    assert report.orders == len(numbers) == report.history.last_order


def test_the_same_seed_gives_the_same_files_and_ground_truth(runs, tmp_path: Path) -> None:
    report, _, _ = runs
    again = generate_orders(tmp_path, **RUN, anomalies=Request.parse(REQUEST))

    assert again.anomalies == report.anomalies
    for first, second in zip(report.files, again.files, strict=True):
        assert first.path.read_bytes() == second.path.read_bytes()


def test_ecom_generate_writes_the_ground_truth_beside_the_folder(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("ECOM_HOME", str(tmp_path / "home"))
    landing = tmp_path / "landing"
    arguments = ["generate", "--out", str(landing)]

    year = ["--orders", "6000", "--days", "70", "--start", "2025-01-01", "--anomalies", "spike,lost_day"]
    assert main([*arguments, *year]) == 0
    # the next two days: the folder's days count towards the warm-up, so the first can drop
    assert main([*arguments, "--orders", "200", "--days", "2", "--anomalies", "drop", "--anomaly-spreads", "4"]) == 0

    truth = tmp_path / "landing-anomalies.csv"
    with truth.open(newline="") as file:
        rows = list(csv.DictReader(file))
    assert tuple(rows[0]) == GROUND_TRUTH_COLUMNS
    first_run, (drop,) = rows[:2], rows[2:]
    assert sorted(row["kind"] for row in first_run) == ["lost_day", "spike"]
    assert all(date.fromisoformat(row["day"]) >= date(2025, 1, 1) + timedelta(days=WARM_UP_DAYS) for row in first_run)
    (spike,) = [row for row in first_run if row["kind"] == "spike"]
    assert float(spike["spreads"]) >= 3
    assert (drop["kind"], drop["day"]) == ("drop", "2025-03-12")
    assert float(drop["spreads"]) <= -4 or drop["injected_orders"] == "0"
    assert all(path.name.startswith("orders_") for path in scan_landing(landing).files)


def test_the_state_file_keeps_the_last_days_orders_before_injection(runs, tmp_path: Path) -> None:
    _, plain, _ = runs
    folder = tmp_path / "landing"
    continue_orders(folder, **RUN, anomalies=Request.parse(REQUEST))
    last_days = pd.date_range(end=RUN["start"] + timedelta(days=RUN["days"] - 1), periods=WARM_UP_DAYS).date.astype(str)
    without_anomalies = _segment_orders(plain).reindex(index=last_days, fill_value=0)

    kept = read_daily_orders(folder, RUN["start"] + timedelta(days=RUN["days"]))
    np.testing.assert_array_equal(kept, without_anomalies.to_numpy())
    assert read_daily_orders(folder, RUN["start"] + timedelta(days=RUN["days"] + 1)) is None  # not the days before


def test_ecom_generate_explains_anomalies_that_do_not_fit(tmp_path: Path) -> None:
    arguments = ["generate", "--orders", "100", "--days", "30", "--out", str(tmp_path / "landing")]
    with pytest.raises(SystemExit, match="do not fit"):
        main([*arguments, "--anomalies", "spike"])
    with pytest.raises(SystemExit, match="unknown anomaly kind"):
        main([*arguments, "--anomalies", "surge"])
    with pytest.raises(SystemExit, match="--anomalies, which is missing"):
        main([*arguments, "--anomaly-spreads", "4"])
    assert not (tmp_path / "landing").exists()


def test_the_broken_files_of_a_lost_day_come_with_the_next_day(tmp_path: Path) -> None:
    request, days = Request.parse("lost_day"), 70
    start = date(2025, 1, 1)
    # a seed whose lost day is one a broken file was planned for
    seed = next(
        seed
        for seed in range(2_000)
        if plan(request, seed, days)[0].first_day
        in plan_broken_files(seed, Shop.create(seed=seed, orders=3_000, days=days, start=start).calendar, "csv")
    )
    report = generate_orders(tmp_path, orders=3_000, days=days, seed=seed, start=start, defect_rate=0.01, anomalies=request)

    assert sorted(file.broken for file in report.broken_files) == sorted(BROKEN_FILE_KINDS["csv"])
