from __future__ import annotations

import io
import shlex
from datetime import date, datetime, timedelta
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from ingestion.demo_data import DEFAULT_START, GenerationReport, History, generate_orders
from ingestion.demo_files import BROKEN_FILE_KINDS
from ingestion.demo_history import STATE_FILE, continue_orders, folder_history, read_state, write_state
from ingestion.demo_shop import CHANNELS, CURRENCY_BY_COUNTRY
from ingestion.loader import scan_landing
from ingestion.sources import CONTRACT_COLUMNS, STATUSES
from orchestration.cli import main

README = Path(__file__).resolve().parents[2] / "README.md"


def _read(path: Path) -> pd.DataFrame:
    """A generated file with every value as text, as the loader sees it."""
    if path.name.endswith(".parquet"):
        return pq.read_table(path).to_pandas()
    if ".jsonl" in path.name:
        return pd.read_json(path, lines=True, dtype=False).astype(str)
    return pd.read_csv(path, dtype=str, keep_default_na=False)


def _day_files(report: GenerationReport) -> list[Path]:
    return [file.path for file in report.files if file.broken is None]


def _all_rows(report: GenerationReport) -> pd.DataFrame:
    """Rows of every loadable file, with the position of their file in the run."""
    frames = [_read(path).assign(file_index=index) for index, path in enumerate(_day_files(report))]
    return pd.concat(frames, ignore_index=True)


def _bad_value_masks(rows: pd.DataFrame) -> dict[str, pd.Series]:
    return {
        "missing_order_id": rows.order_id == "",
        "missing_ordered_at": rows.ordered_at == "",
        "missing_product_id": rows.product_id == "",
        "unparseable_quantity": rows.quantity == "two",
        "zero_quantity": rows.quantity == "0",
        "unparseable_unit_price": rows.unit_price == "12,9x",
        "negative_unit_price": rows.unit_price.str.startswith("-"),
        "unknown_currency": rows.currency == "XYZ",
        "unparseable_timestamp": rows.ordered_at == "yesterday",
        "future_timestamp": rows.ordered_at.str.startswith("2099-"),
    }


FORMATS = [("csv", False), ("csv", True), ("jsonl", False), ("jsonl", True), ("parquet", False)]
YearRun = tuple[GenerationReport, pd.DataFrame]


@pytest.fixture(scope="module")
def year_run(tmp_path_factory: pytest.TempPathFactory) -> YearRun:
    """A clean year of orders, large enough for seasonality to show."""
    report = generate_orders(tmp_path_factory.mktemp("year"), orders=20_000, days=365, seed=7)
    return report, _all_rows(report)


@pytest.fixture(scope="module")
def defect_run(tmp_path_factory: pytest.TempPathFactory) -> GenerationReport:
    return generate_orders(tmp_path_factory.mktemp("defects"), orders=3_000, days=20, seed=3, defect_rate=0.02)


@pytest.mark.parametrize(("file_format", "compress"), FORMATS)
def test_same_arguments_give_byte_identical_files(tmp_path: Path, file_format: str, compress: bool) -> None:
    def run(name: str, seed: int) -> dict[str, bytes]:
        report = generate_orders(
            tmp_path / name,
            orders=1_500,
            days=20,
            seed=seed,
            file_format=file_format,
            defect_rate=0.02,
            compress=compress,
        )
        return {file.path.name: file.path.read_bytes() for file in report.files}

    first, second, other_seed = run("first", 11), run("second", 11), run("other", 12)

    assert first == second
    day_file = f"orders_2025-01-05.{file_format}" + (".gz" if compress else "")
    assert first[day_file] != other_seed[day_file]


def test_one_file_per_day_named_by_its_date(tmp_path: Path) -> None:
    report = generate_orders(tmp_path, orders=200, days=4, start=date(2024, 2, 27))

    assert [path.name for path in _day_files(report)] == [
        "orders_2024-02-27.csv",
        "orders_2024-02-28.csv",
        "orders_2024-02-29.csv",
        "orders_2024-03-01.csv",
    ]
    assert sorted(path.name for path in tmp_path.iterdir()) == [path.name for path in _day_files(report)]


def test_default_start_does_not_depend_on_today(tmp_path: Path) -> None:
    report = generate_orders(tmp_path, orders=50, days=2)

    assert date(2025, 1, 1) == DEFAULT_START
    assert [path.name for path in _day_files(report)] == ["orders_2025-01-01.csv", "orders_2025-01-02.csv"]


@pytest.mark.parametrize(("file_format", "compress"), FORMATS)
def test_every_format_reads_back_with_the_contract_columns(tmp_path: Path, file_format: str, compress: bool) -> None:
    report = generate_orders(tmp_path, orders=400, days=3, file_format=file_format, compress=compress)

    for file in report.files:
        rows = _read(file.path)
        assert tuple(rows.columns) == CONTRACT_COLUMNS
        assert len(rows) == file.lines > 0
    assert report.lines == sum(file.lines for file in report.files)


def test_parquet_columns_are_typed(tmp_path: Path) -> None:
    report = generate_orders(tmp_path, orders=300, days=2, file_format="parquet")

    schema = pq.read_schema(report.files[0].path)
    assert schema.field("ordered_at").type == pa.timestamp("us", tz="UTC")
    assert schema.field("quantity").type == pa.int32()
    assert schema.field("unit_price").type == pa.decimal128(12, 2)
    assert schema.field("order_id").type == pa.string()


def test_jsonl_quantity_is_a_number_and_other_values_are_strings(tmp_path: Path) -> None:
    report = generate_orders(tmp_path, orders=100, days=1, file_format="jsonl")

    first_line = report.files[0].path.read_text().splitlines()[0]
    values = pd.read_json(io.StringIO(first_line), lines=True, dtype=False).iloc[0].to_dict()
    assert isinstance(values.pop("quantity"), int)
    assert all(isinstance(value, str) for value in values.values())


def test_clean_rows_obey_the_contract(year_run: YearRun) -> None:
    report, rows = year_run

    assert report.bad_lines == 0 and report.broken_files == []
    assert rows.order_id.str.fullmatch(r"ORD-\d{10}").all()
    assert rows.ordered_at.str.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\+00:00").all()
    assert rows.ordered_at.map(lambda text: datetime.fromisoformat(text).utcoffset() == timedelta(0)).all()
    assert rows.customer_id.str.fullmatch(r"(C\d{6,})?").all()
    assert rows.product_id.str.fullmatch(r"P\d{4}").all()
    assert (rows.product_name != "").all() and (rows.category != "").all()
    assert rows.quantity.str.fullmatch(r"-?[1-9]\d*").all()
    assert rows.unit_price.str.fullmatch(r"\d+\.\d{2}").all()
    assert (rows.currency == rows.country.map(CURRENCY_BY_COUNTRY)).all()
    assert rows.status.isin(STATUSES).all() and rows.channel.isin(CHANNELS).all()
    assert ((rows.quantity.astype(int) < 0) == (rows.status != "completed")).all()


def test_catalog_looks_like_a_shop(year_run: YearRun) -> None:
    _, rows = year_run
    sales = rows[rows.status == "completed"]
    price = sales.unit_price.astype(float)

    assert 6 <= sales.category.nunique() <= 10
    assert 200 <= sales.product_id.nunique() <= 400
    assert set(sales.country) >= {"DE", "FR", "GB", "US", "NL", "SE"}
    # commas and quotes in product names survive the round trip
    assert sales.product_name.str.contains(",").any() and sales.product_name.str.contains('"').any()
    # long tail: the top 10% of products sell far more than their share
    lines_per_product = sales.product_id.value_counts()
    assert lines_per_product.iloc[: len(lines_per_product) // 10].sum() > 0.35 * len(sales)
    # a stable list price per product and currency, some lines discounted, a few free
    list_price = price.groupby([sales.product_id, sales.currency]).transform("max")
    assert (price == list_price).mean() > 0.75
    assert ((price < list_price * 0.91) & (price >= list_price * 0.69)).mean() > 0.05
    assert 0 < (price == 0).mean() < 0.02


def test_customers_buy_with_different_habits(year_run: YearRun) -> None:
    report, rows = year_run
    orders = rows[rows.status == "completed"].drop_duplicates("order_id")

    assert len(orders) == report.orders
    assert 0.10 <= (orders.customer_id == "").mean() <= 0.15
    orders_per_customer = orders[orders.customer_id != ""].customer_id.value_counts()
    assert (orders_per_customer >= 2).mean() > 0.3  # repeat buyers
    heavy_buyers = orders_per_customer.iloc[: len(orders_per_customer) // 10]
    assert heavy_buyers.sum() > 0.3 * orders_per_customer.sum()
    # customers arrive over time: many place their first order late in the year
    first_order_month = orders.groupby("customer_id").ordered_at.min().str[5:7]
    assert (first_order_month >= "07").mean() > 0.2


def test_weekends_black_friday_and_december_are_busier(year_run: YearRun) -> None:
    _, rows = year_run
    orders = rows[rows.status == "completed"].drop_duplicates("order_id")
    per_day = orders.groupby(pd.to_datetime(orders.ordered_at.str[:10])).size()
    weekday = per_day.index.day_of_week

    assert per_day[weekday >= 5].mean() > 1.15 * per_day[weekday <= 3].mean()
    autumn = per_day["2025-10-01":"2025-11-20"].mean()
    assert per_day["2025-11-24":"2025-12-01"].mean() > 1.5 * autumn  # Black Week to Cyber Monday
    assert per_day[pd.Timestamp("2025-11-28")] == per_day["2025-11-01":"2025-11-30"].max()  # Black Friday
    assert per_day["2025-12-01":"2025-12-20"].mean() > 1.2 * autumn


def test_returns_and_cancellations_follow_their_order(year_run: YearRun) -> None:
    report, rows = year_run
    sales = rows[rows.status == "completed"]
    first_file = sales.groupby("order_id").file_index.min()
    returns, cancellations = rows[rows.status == "returned"], rows[rows.status == "cancelled"]

    assert returns.order_id.isin(first_file.index).all()
    assert cancellations.order_id.isin(first_file.index).all()
    files_after_order = returns.file_index - returns.order_id.map(first_file)
    assert files_after_order.between(0, 30).all() and (files_after_order > 0).mean() > 0.95
    assert (cancellations.file_index - cancellations.order_id.map(first_file)).between(0, 1).all()
    assert 0.035 < returns.order_id.nunique() / report.orders < 0.065
    assert 0.005 < cancellations.order_id.nunique() / report.orders < 0.015
    # a cancellation reverses every line of its order
    cancelled_sales = sales[sales.order_id.isin(cancellations.order_id)]
    assert len(cancelled_sales.drop_duplicates(["order_id", "product_id"])) == len(cancellations)


def test_late_orders_arrive_in_the_next_file(year_run: YearRun) -> None:
    report, rows = year_run
    files = pd.Series([pd.Timestamp(path.name[7:17]) for path in _day_files(report)])
    first_arrival = rows[rows.status == "completed"].drop_duplicates("order_id")
    file_date = files[first_arrival.file_index].to_numpy()
    days_late = (file_date - pd.to_datetime(first_arrival.ordered_at.str[:10])).dt.days

    assert days_late.isin([0, 1]).all()
    assert 0.005 < (days_late == 1).mean() < 0.02


def test_resent_orders_repeat_every_line_with_one_correction(
    year_run: YearRun,
) -> None:
    report, rows = year_run
    sales = rows[rows.status == "completed"]
    files_per_order = sales.groupby("order_id").file_index.nunique()
    resent = files_per_order[files_per_order > 1].index

    assert 0.002 < len(resent) / report.orders < 0.008
    assert (files_per_order <= 2).all()
    for _, lines in sales[sales.order_id.isin(resent)].groupby("order_id"):
        original_file, resent_file = sorted(lines.file_index.unique())
        original = lines[lines.file_index == original_file].reset_index(drop=True)
        again = lines[lines.file_index == resent_file].reset_index(drop=True)
        assert 1 <= resent_file - original_file <= 7
        assert original.product_id.tolist() == again.product_id.tolist()
        assert (original.ordered_at == again.ordered_at).all()
        changed = (original.quantity != again.quantity) | (original.unit_price != again.unit_price)
        assert changed.sum() == 1


def test_no_defects_without_defect_rate(year_run: YearRun) -> None:
    _, rows = year_run

    for kind, mask in _bad_value_masks(rows).items():
        assert not mask.any(), kind


@pytest.mark.parametrize("file_format", ["csv", "jsonl"])
def test_every_defect_kind_appears_and_is_counted(tmp_path: Path, file_format: str) -> None:
    report = generate_orders(tmp_path, orders=3_000, days=20, seed=3, defect_rate=0.02, file_format=file_format)
    rows = _all_rows(report)
    masks = _bad_value_masks(rows)

    for kind, mask in masks.items():
        assert mask.any(), kind
    bad = pd.concat(masks, axis=1).any(axis=1)
    assert bad.sum() == report.bad_lines - sum(file.bad_lines for file in report.broken_files)
    assert 0.01 < bad.mean() < 0.03


def test_defects_are_added_next_to_the_clean_rows(tmp_path: Path, defect_run: GenerationReport) -> None:
    clean_run = generate_orders(tmp_path, orders=3_000, days=20, seed=3)
    with_defects = _all_rows(defect_run)
    bad = pd.concat(_bad_value_masks(with_defects), axis=1).any(axis=1)

    pd.testing.assert_frame_equal(with_defects[~bad].reset_index(drop=True), _all_rows(clean_run))


def test_broken_csv_files(defect_run: GenerationReport) -> None:
    broken = {file.broken: file for file in defect_run.broken_files}

    assert set(broken) == set(BROKEN_FILE_KINDS["csv"])
    for kind, file in broken.items():
        assert file.path.name.startswith("orders_2025-01-") and file.path.name.endswith(f"_broken-{kind}.csv")
        assert file.bad_lines == file.lines
    assert broken["empty"].path.stat().st_size == 0
    header = broken["missing-column"].path.read_text().splitlines()[0].split(",")
    assert header == [column for column in CONTRACT_COLUMNS if column != "product_id"]
    with pytest.raises(UnicodeDecodeError):
        broken["invalid-utf8"].path.read_bytes().decode("utf-8")


def test_broken_parquet_files(tmp_path: Path) -> None:
    report = generate_orders(tmp_path, orders=500, days=5, defect_rate=0.01, file_format="parquet")
    broken = {file.broken: file.path for file in report.broken_files}

    assert set(broken) == {"empty", "missing-column", "truncated"}
    assert broken["empty"].stat().st_size == 0
    assert "product_id" not in pq.read_schema(broken["missing-column"]).names
    with pytest.raises(pa.ArrowInvalid):
        pq.read_table(broken["truncated"])


def test_parquet_defects_keep_the_column_types(tmp_path: Path) -> None:
    report = generate_orders(tmp_path, orders=1_000, days=3, defect_rate=0.03, file_format="parquet")
    rows = pd.concat([pq.read_table(path).to_pandas() for path in _day_files(report)])

    assert (rows.order_id == "").any() and (rows.product_id == "").any() and (rows.currency == "XYZ").any()
    assert rows.ordered_at.isna().any() and (rows.ordered_at.dt.year == 2099).any()
    assert rows.quantity.isna().any() and (rows.quantity == 0).any()
    assert rows.unit_price.isna().any() and (rows.unit_price.dropna() < 0).any()


def test_progress_reports_the_lines_of_each_file(tmp_path: Path) -> None:
    calls: list[int] = []
    report = generate_orders(tmp_path, orders=500, days=6, defect_rate=0.01, progress=calls.append)

    assert calls == [file.lines for file in report.files]
    assert sum(calls) == report.lines


def test_a_larger_run_stays_consistent(tmp_path: Path) -> None:
    report = generate_orders(tmp_path, orders=100_000, days=30)

    assert 200_000 < report.lines < 230_000
    assert len(report.files) == 30
    assert sum(1 for _ in report.files[-1].path.open()) == report.files[-1].lines + 1


@pytest.mark.parametrize(
    "arguments",
    [
        {"orders": -1, "days": 1},
        {"orders": 10, "days": 0},
        {"orders": 10, "days": 1, "file_format": "xml"},
        {"orders": 10, "days": 1, "defect_rate": 1.5},
        {"orders": 10, "days": 1, "seed": -3},
    ],
)
def test_invalid_arguments_are_rejected(tmp_path: Path, arguments: dict) -> None:
    with pytest.raises(ValueError):
        generate_orders(tmp_path, **arguments)


# --- continuing a folder's history (`ecom generate`) ------------------------------------------


def _numbers(ids: pd.Series, prefix: str) -> pd.Series:
    """The numbers of the ids that look like ``prefix`` + digits."""
    ids = ids[ids.str.fullmatch(prefix + r"\d+")]
    return ids.str[len(prefix) :].astype(int)


def _rows_by_day(paths: list[Path]) -> pd.DataFrame:
    frames = [_read(path).assign(file_day=date.fromisoformat(path.name[7:17])) for path in paths]
    return pd.concat(frames, ignore_index=True)


def _folder_rows(folder: Path) -> pd.DataFrame:
    """Rows of every loadable order file in ``folder``, with the day of their file."""
    return _rows_by_day(sorted(path for path in folder.glob("orders_*") if "_broken-" not in path.name))


def _assert_continues(before: pd.DataFrame, new: pd.DataFrame) -> None:
    """The ``new`` rows add to ``before``: the next days, new order ids, new customers numbered
    after the old ones, and some old customers coming back."""
    last_day = before.file_day.max()
    assert len(new) > 0
    assert new.file_day.min() == last_day + timedelta(days=1)
    assert (new.ordered_at.str[:10] > last_day.isoformat()).all()
    assert _numbers(new.order_id, "ORD-").min() > _numbers(before.order_id, "ORD-").max()
    assert new.customer_id.str.fullmatch(r"(C\d{6})?").all()
    customers = _numbers(new.customer_id, "C").drop_duplicates().sort_values()
    # customers who never ordered in earlier files are either the history's own (numbered, not
    # seen yet) or new ones, numbered one after the other above every earlier customer
    newcomers = customers[customers > _numbers(before.customer_id, "C").max()]
    assert len(newcomers) > 0 and newcomers.tolist() == list(range(newcomers.min(), newcomers.max() + 1))
    assert set(new.customer_id) & (set(before.customer_id) - {""}), "no returning customer"


def test_day_after_day_continues_order_ids_customers_and_days(tmp_path: Path) -> None:
    first = continue_orders(tmp_path, orders=1_500, days=20, seed=5, today=date(2026, 3, 1))
    assert first.continued_from is None
    assert (first.first_day, first.last_day) == (date(2026, 2, 9), date(2026, 2, 28))

    for days in (1, 1, 3):
        before = _folder_rows(tmp_path)
        known = read_state(tmp_path)
        report = continue_orders(tmp_path, orders=200, days=days, seed=5)
        new = _rows_by_day(_day_files(report))
        _assert_continues(before, new)
        assert report.continued_from == known and report.history == read_state(tmp_path)
        # every customer the history numbered stays its own; new ones follow its last one
        newcomers = _numbers(new.customer_id, "C").drop_duplicates()
        newcomers = newcomers[newcomers > known.last_customer]
        assert sorted(newcomers) == list(range(known.last_customer + 1, report.history.last_customer + 1))
        assert report.history.last_order == known.last_order + 200

    rows = _folder_rows(tmp_path)
    assert rows.file_day.max() == date(2026, 3, 5)
    # within a run an order id comes again only as its return, cancellation or re-send
    sales = rows[rows.status == "completed"]
    assert sales.drop_duplicates(["order_id", "file_day"]).order_id.value_counts().max() <= 2


def test_continuing_is_deterministic_and_each_day_is_new(tmp_path: Path) -> None:
    def run(folder: Path) -> dict[str, bytes]:
        continue_orders(folder, orders=300, days=5, seed=8, today=date(2026, 6, 1))
        continue_orders(folder, orders=150, days=1, seed=8)
        continue_orders(folder, orders=150, days=1, seed=8, file_format="jsonl", compress=True)
        return {path.name: path.read_bytes() for path in folder.iterdir()}

    first, second = run(tmp_path / "first"), run(tmp_path / "second")

    assert first == second
    assert STATE_FILE in first
    day_one, day_two = (
        _read(tmp_path / "first" / "orders_2026-06-01.csv"),
        _read(tmp_path / "first" / "orders_2026-06-02.jsonl.gz"),
    )
    # the same seed does not replay the same day: other times, other products
    assert day_one.ordered_at.str[11:].tolist() != day_two.ordered_at.str[11:].tolist()
    assert day_one.product_id.tolist() != day_two.product_id.tolist()


def test_an_empty_folder_gives_the_files_of_generate_orders(tmp_path: Path) -> None:
    arguments = {"orders": 400, "days": 3, "seed": 4, "defect_rate": 0.02, "start": date(2025, 6, 1)}
    continued = continue_orders(tmp_path / "continued", **arguments)
    fresh = generate_orders(tmp_path / "fresh", **arguments)

    assert continued.continued_from is None
    assert [file.path.name for file in continued.files] == [file.path.name for file in fresh.files]
    assert all(a.path.read_bytes() == b.path.read_bytes() for a, b in zip(continued.files, fresh.files, strict=True))
    assert read_state(tmp_path / "continued") == fresh.history


def test_without_history_or_start_the_days_end_yesterday(tmp_path: Path) -> None:
    report = continue_orders(tmp_path, orders=60, days=3, today=date(2026, 5, 10))

    assert [path.name for path in _day_files(report)] == [
        "orders_2026-05-07.csv",
        "orders_2026-05-08.csv",
        "orders_2026-05-09.csv",
    ]


@pytest.mark.parametrize(("file_format", "compress"), FORMATS)
def test_history_without_a_state_file_comes_from_the_newest_files(tmp_path: Path, file_format: str, compress: bool) -> None:
    # as `ecom run` leaves its demo data: generate_orders as a library, no state file
    generated = generate_orders(
        tmp_path, orders=2_000, days=30, seed=9, file_format=file_format, compress=compress, defect_rate=0.01
    )
    assert not (tmp_path / STATE_FILE).exists()

    history = folder_history(tmp_path)

    assert history.last_day == generated.last_day == date(2025, 1, 30)
    assert history.last_order == 2_000
    assert 0.9 * generated.history.last_customer < history.last_customer <= generated.history.last_customer
    assert history.customer_digits == 6
    continued = continue_orders(tmp_path, orders=100, days=1, seed=9, file_format=file_format, compress=compress)
    assert continued.continued_from == history
    assert continued.first_day == date(2025, 1, 31)


def test_the_state_file_spares_reading_the_files_it_knows(tmp_path: Path) -> None:
    header = ",".join(CONTRACT_COLUMNS)
    (tmp_path / "orders_2026-01-09.csv").write_text("not an order file\n")  # known from the state: never read
    write_state(tmp_path, History(last_day=date(2026, 1, 10), last_order=5_000, last_customer=900))

    assert folder_history(tmp_path) == History(last_day=date(2026, 1, 10), last_order=5_000, last_customer=900)
    assert scan_landing(tmp_path).files == [tmp_path / "orders_2026-01-09.csv"]  # the loader ignores the state file

    line = "ORD-0000007000,2026-01-11T10:00:00+00:00,C001234,P0001,Mug,Home,1,9.90,EUR,DE,completed,web"
    (tmp_path / "orders_2026-01-11.csv").write_text(f"{header}\n{line}\n")  # newer than the state: read
    assert folder_history(tmp_path) == History(last_day=date(2026, 1, 11), last_order=7_000, last_customer=1_234)


def test_a_start_inside_the_history_adds_orders_and_overwrites_nothing(tmp_path: Path) -> None:
    continue_orders(tmp_path, orders=500, days=5, seed=2, start=date(2026, 4, 1))
    before = _folder_rows(tmp_path)

    with pytest.raises(FileExistsError, match=r"orders_2026-04-03\.csv exists"):
        continue_orders(tmp_path, orders=50, days=1, seed=2, start=date(2026, 4, 3))
    earlier = continue_orders(tmp_path, orders=50, days=1, seed=2, start=date(2026, 3, 20))
    added = _rows_by_day(_day_files(earlier))
    assert _numbers(added.order_id, "ORD-").min() == _numbers(before.order_id, "ORD-").max() + 1
    assert continue_orders(tmp_path, orders=50, days=1, seed=2).first_day == date(2026, 4, 6)


def _readme_generate_commands() -> list[list[str]]:
    lines = README.read_text().splitlines()
    return [shlex.split(line, comments=True) for line in lines if line.startswith(".venv/bin/ecom generate ")]


def test_the_readme_new_day_example_adds_the_next_day(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    commands = _readme_generate_commands()
    assert commands, "README.md shows no `.venv/bin/ecom generate` example"
    landing = tmp_path / "landing"
    monkeypatch.setenv("ECOM_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("ECOM_LANDING_DIR", str(landing))
    # what `make run` leaves in the landing folder: `ecom run`'s demo data up to yesterday, no state file
    today = date.today()
    generate_orders(landing, orders=3_000, days=60, seed=42, start=today - timedelta(days=60))

    for new_day in (today, today + timedelta(days=1)):  # each run adds the next day
        before = _folder_rows(landing)
        for command in commands:
            assert "--out" not in command, "the example is meant for the landing folder"
            assert main(command[1:]) == 0
        after = _folder_rows(landing)
        new = after[after.file_day > before.file_day.max()]
        assert new.file_day.min() == new_day
        _assert_continues(before, new)
        # nothing already there changed
        pd.testing.assert_frame_equal(after[after.file_day <= before.file_day.max()].reset_index(drop=True), before)


def test_generate_stops_when_the_warehouse_cannot_be_read(tmp_path: Path) -> None:
    arguments = ["generate", "--orders", "10", "--days", "1", "--out", str(tmp_path)]
    with pytest.raises(SystemExit, match="cannot read the history in the warehouse"):
        main([*arguments, "--warehouse", "postgresql://nobody@127.0.0.1:1/warehouse"])

    assert list(tmp_path.iterdir()) == []
