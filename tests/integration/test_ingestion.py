"""The loader against the real PostgreSQL: exactly once, corrections replace, bad rows explained."""

from pathlib import Path

import psycopg
import pytest

from ingestion.loader import load_landing
from ingestion.sources import load_mappings

pytestmark = pytest.mark.integration

HEADER = "order_id,ordered_at,customer_id,product_id,product_name,category,quantity,unit_price,currency,country,status,channel"


def write(path: Path, *rows: str, header: str = HEADER) -> Path:
    path.write_text("\n".join([header, *rows]) + "\n", encoding="utf-8")
    return path


def load(url: str, landing: Path):
    return load_landing(url, landing, load_mappings())


def rows(url: str, query: str):
    with psycopg.connect(url) as conn:
        return conn.execute(query).fetchall()


def partitions(url: str) -> list[str]:
    return [
        name
        for (name,) in rows(
            url,
            "select inhrelid::regclass::text from pg_inherits where inhparent = 'raw.order_lines'::regclass order by inhrelid",
        )
    ]


def test_reloading_the_same_files_loads_nothing(scratch_warehouse, tmp_path):
    write(tmp_path / "orders_2025-01-01.csv", "O1,2025-01-01T10:00:00+00:00,C1,P1,Mug,Home,2,9.90,EUR,DE,completed,web")
    first = load(scratch_warehouse, tmp_path)
    second = load(scratch_warehouse, tmp_path)
    assert first.rows_loaded == 1
    assert second.rows_loaded == 0 and second.count("skipped") == 1
    assert rows(scratch_warehouse, "select count(*) from raw.order_lines") == [(1,)]


def test_a_resent_order_replaces_its_lines_and_returns_add_up(scratch_warehouse, tmp_path):
    write(
        tmp_path / "orders_2025-01-01.csv",
        'O1,2025-01-01T10:00:00+00:00,C1,P1,"Mug, large",Home,2,9.90,EUR,DE,completed,web',
        "O1,2025-01-01T10:00:00+00:00,C1,P2,Tea,Food,1,4.50,EUR,DE,completed,web",
        "O2,2025-01-01T11:00:00+00:00,,P1,Mug,Home,1,9.90,EUR,FR,completed,web",
    )
    load(scratch_warehouse, tmp_path)
    write(
        tmp_path / "orders_2025-01-02.csv",
        'O1,2025-01-01T10:00:00+00:00,C1,P1,"Mug, large",Home,3,9.90,EUR,DE,completed,web',
        "O2,2025-01-02T09:00:00+00:00,,P1,Mug,Home,-1,9.90,EUR,FR,returned,web",
    )
    summary = load(scratch_warehouse, tmp_path)
    assert summary.files[-1].orders_replaced == 1
    assert rows(scratch_warehouse, "select order_id, product_id, quantity from raw.order_lines order by 1, 3") == [
        ("O1", "P1", 3),
        ("O2", "P1", -1),
        ("O2", "P1", 1),
    ]


@pytest.mark.parametrize(
    "row, reason",
    [
        (",2025-01-01T10:00:00,C1,P1,Mug,Home,1,9.90,EUR,DE,,", "missing order_id"),
        ("O1,,C1,P1,Mug,Home,1,9.90,EUR,DE,,", "missing ordered_at"),
        ("O1,2025-01-01T10:00:00,C1,,Mug,Home,1,9.90,EUR,DE,,", "missing product_id"),
        ("O1,2025-01-01T10:00:00,C1,P1,Mug,Home,two,9.90,EUR,DE,,", "quantity is not an integer"),
        ("O1,2025-01-01T10:00:00,C1,P1,Mug,Home,0,9.90,EUR,DE,,", "quantity is zero"),
        ("O1,2025-01-01T10:00:00,C1,P1,Mug,Home,1,12;9x,EUR,DE,,", "unit_price is not a number"),
        ("O1,2025-01-01T10:00:00,C1,P1,Mug,Home,1,-0.01,EUR,DE,,", "unit_price is negative"),
        ("O1,yesterday,C1,P1,Mug,Home,1,9.90,EUR,DE,,", "ordered_at is not a timestamp"),
        ("O1,2025-02-30T10:00:00,C1,P1,Mug,Home,1,9.90,EUR,DE,,", "ordered_at is not a timestamp"),
        ("O1,2099-01-01T10:00:00,C1,P1,Mug,Home,1,9.90,EUR,DE,,", "ordered_at is in the future"),
        ("O1,2025-01-01T10:00:00,C1,P1,Mug,Home,1,9.90,XYZ,DE,,", "unknown currency code"),
    ],
)
def test_each_bad_row_is_quarantined_with_its_reason(scratch_warehouse, tmp_path, row, reason):
    good = "O9,2025-01-01T10:00:00+00:00,C1,P1,Mug,Home,1,9.90,EUR,DE,completed,web"
    write(tmp_path / "orders_2025-01-01.csv", good, row)
    summary = load(scratch_warehouse, tmp_path)
    assert (summary.rows_loaded, summary.rows_quarantined) == (1, 1)
    assert rows(scratch_warehouse, "select source_line, reason, file_name from quarantine.order_lines") == [
        (3, reason, "orders_2025-01-01.csv")
    ]


@pytest.mark.parametrize(
    "content, message",
    [
        (b"", "empty file"),
        ((HEADER + "\n").encode(), "empty file"),
        (b"order_id,ordered_at,quantity,unit_price\nO1,2025-01-01,1,2.00\n", "missing required column"),
        ((HEADER + "\nO1,2025-01-01T10:00:00,C1,P1,Caf\xe9,Home,1,9.90,EUR,DE,,\n").encode("latin-1"), "UTF8"),
    ],
)
def test_broken_files_are_rejected_and_the_others_still_load(scratch_warehouse, tmp_path, content, message):
    (tmp_path / "orders_2025-01-01.csv").write_bytes(content)
    write(tmp_path / "orders_2025-01-02.csv", "O1,2025-01-02T10:00:00+00:00,C1,P1,Mug,Home,1,9.90,EUR,DE,completed,web")
    summary = load(scratch_warehouse, tmp_path)
    assert [f.status for f in summary.files] == ["rejected", "loaded"]
    assert message in summary.files[0].error
    assert rows(scratch_warehouse, "select status, error is not null from ops.ingested_files order by file_id") == [
        ("rejected", True),
        ("loaded", False),
    ]


def test_malformed_csv_records_are_quarantined_and_the_rest_loads(scratch_warehouse, tmp_path):
    write(
        tmp_path / "orders_2025-01-01.csv",
        "O1,2025-01-01T10:00:00+00:00,C1,P1,Mug,Home,1,9.90,EUR,DE,completed,web",
        "O2,2025-01-01T10:00:00+00:00,C1,P1,Mug,Home,1,9.90,EUR,DE,completed,web,EXTRA",
        "O3,2025-01-01T10:00:00+00:00,C1,P1,Mug,Home,1,9.90,EUR,DE,completed,web",
    )
    summary = load(scratch_warehouse, tmp_path)
    assert (summary.rows_loaded, summary.rows_quarantined) == (2, 1)
    assert rows(scratch_warehouse, "select source_line, reason, raw_row -> 'fields' ->> 12 from quarantine.order_lines") == [
        (3, "malformed row: 13 fields, the header has 12", "EXTRA")
    ]


@pytest.mark.parametrize("file_format, gzip", [("csv", False), ("csv", True), ("jsonl", False), ("jsonl", True), ("parquet", False)])
def test_generated_files_with_defects_account_for_every_line(scratch_warehouse, tmp_path, file_format, gzip):
    from ingestion.demo_data import generate_orders

    report = generate_orders(tmp_path, orders=600, days=4, seed=11, file_format=file_format, defect_rate=0.03, compress=gzip)
    summary = load(scratch_warehouse, tmp_path)
    results = {result.file_name: result for result in summary.files}
    for generated in report.files:
        result = results[generated.path.name]
        if generated.broken:
            assert result.status in ("rejected", "skipped"), result
            continue
        assert result.status == "loaded", result
        assert result.rows_loaded + result.rows_quarantined == generated.lines, generated.path.name
        assert result.rows_quarantined >= generated.bad_lines
    assert summary.rows_quarantined > 0
    reasons = {row[0] for row in rows(scratch_warehouse, "select distinct reason from quarantine.order_lines")}
    assert {"missing order_id", "missing product_id", "quantity is zero", "unit_price is negative",
            "unknown currency code", "ordered_at is in the future"} <= reasons


def test_online_retail_mapping(scratch_warehouse, tmp_path):
    fixture = Path(__file__).resolve().parents[1] / "fixtures" / "online_retail_2010-12.csv"
    (tmp_path / fixture.name).write_bytes(fixture.read_bytes())
    summary = load(scratch_warehouse, tmp_path)
    assert (summary.rows_loaded, summary.rows_quarantined) == (5, 1), summary
    loaded = rows(
        scratch_warehouse,
        "select order_id, customer_id, product_name, quantity, unit_price::text, currency, country, status, channel,"
        " to_char(ordered_at at time zone 'UTC', 'YYYY-MM-DD HH24:MI') from raw.order_lines order by source_line",
    )
    assert loaded == [
        ("536365", "17850", "WHITE HANGING HEART T-LIGHT HOLDER", 6, "2.55", "GBP", "GB", None, "web", "2010-12-01 08:26"),
        ("536365", "17850", "WHITE METAL LANTERN", 6, "3.39", "GBP", "GB", None, "web", "2010-12-01 08:26"),
        ("536366", None, "HAND WARMER UNION JACK", 6, "1.85", "GBP", "IE", None, "web", "2010-12-01 08:28"),
        ("C536379", "14527", "Discount", -1, "27.50", "GBP", "GB", "cancelled", "web", "2010-12-01 09:41"),
        # London summer time: 14:05 BST is 13:05 UTC.
        ("536370", "12583", "ALARM CLOCK BAKELIKE PINK, CAFÉ", 24, "3.75", "GBP", "FR", None, "web", "2011-06-15 13:05"),
    ]
    assert rows(scratch_warehouse, "select reason, raw_row ->> 'InvoiceDate' from quarantine.order_lines") == [
        ("ordered_at is not a timestamp", "13/45/2010 8:26")
    ]


def test_kill_9_in_the_middle_of_a_load_leaves_nothing_and_the_rerun_is_exact(scratch_warehouse, tmp_path):
    import signal
    import subprocess
    import sys
    import time

    from ingestion.demo_data import generate_orders

    report = generate_orders(tmp_path, orders=120_000, days=1, seed=5)
    loader = subprocess.Popen(
        [sys.executable, "-c",
         "import sys; from pathlib import Path; from ingestion.loader import load_landing; from ingestion.sources import load_mappings;"
         " load_landing(sys.argv[1], Path(sys.argv[2]), load_mappings())",
         scratch_warehouse, str(tmp_path)],
    )
    deadline = time.monotonic() + 120
    with psycopg.connect(scratch_warehouse, autocommit=True) as conn:
        while time.monotonic() < deadline:
            active = conn.execute(
                "select count(*) from pg_stat_activity where application_name = 'ecom-ingestion'"
                " and query ilike 'copy %%order_lines%%' and datname = current_database()"
            ).fetchone()[0]
            if active or loader.poll() is not None:
                break
            time.sleep(0.05)
        assert loader.poll() is None, "the load finished before it could be interrupted"
        loader.send_signal(signal.SIGKILL)
        loader.wait()
        while conn.execute(
            "select count(*) from pg_stat_activity where application_name = 'ecom-ingestion' and datname = current_database()"
        ).fetchone()[0]:
            time.sleep(0.1)
        assert conn.execute("select count(*) from raw.order_lines").fetchone()[0] == 0
        assert conn.execute("select count(*) from ops.ingested_files").fetchone()[0] == 0
        assert partitions(scratch_warehouse) == []
        assert conn.execute("select count(*) from raw.order_id_blocks").fetchone()[0] == 0
    summary = load(scratch_warehouse, tmp_path)
    assert summary.rows_loaded == report.lines
    assert rows(scratch_warehouse, "select count(*) from raw.order_lines") == [(report.lines,)]


def test_each_file_with_good_rows_is_one_partition_of_raw_order_lines(scratch_warehouse, tmp_path):
    write(tmp_path / "orders_2025-01-01.csv", "O1,2025-01-01T10:00:00+00:00,C1,P1,Mug,Home,2,9.90,EUR,DE,completed,web")
    write(tmp_path / "orders_2025-01-02.csv", "O2,2025-01-02T10:00:00+00:00,C1,P1,Mug,Home,0,9.90,EUR,DE,completed,web")
    write(tmp_path / "orders_2025-01-03.csv", "O1,2025-01-01T10:00:00+00:00,C1,P1,Mug,Home,3,9.90,EUR,DE,completed,web")
    summary = load(scratch_warehouse, tmp_path)
    assert [(r.rows_loaded, r.rows_quarantined, r.orders_replaced) for r in summary.files] == [(1, 0, 0), (0, 1, 0), (1, 0, 1)]
    # The file of bad rows only adds no partition; the correction emptied the first file's.
    assert partitions(scratch_warehouse) == ["raw.order_lines_file_1", "raw.order_lines_file_3"]
    assert rows(scratch_warehouse, "select tableoid::regclass::text, file_id, source, quantity from raw.order_lines") == [
        ("raw.order_lines_file_3", 3, "demo", 3)
    ]


# raw.order_lines as ingestion/schema.sql made it before it was partitioned by file.
UNPARTITIONED_SCHEMA = """
create table ops.ingested_files (
    file_id bigint generated always as identity primary key, file_name text not null, content_sha256 text not null,
    source text not null, status text not null, rows_loaded bigint not null default 0,
    rows_quarantined bigint not null default 0, orders_replaced bigint not null default 0, error text,
    started_at timestamptz not null, finished_at timestamptz not null default now(), unique (content_sha256, source)
);
create table raw.order_lines (
    order_id text not null, ordered_at timestamptz not null, customer_id text, product_id text not null,
    product_name text, category text, quantity integer not null check (quantity <> 0),
    unit_price numeric(12, 2) not null check (unit_price >= 0), currency char(3) not null, country text,
    status text, channel text, source text not null, file_id bigint not null, source_line bigint not null,
    loaded_at timestamptz not null default now()
);
create index order_lines_order_id_idx on raw.order_lines (order_id);
create index order_lines_loaded_at_brin on raw.order_lines using brin (loaded_at);
create view raw.order_ids as select order_id from raw.order_lines;  -- as dbt's staging view reads it
insert into ops.ingested_files (file_name, content_sha256, source, status, rows_loaded, started_at)
values ('orders_2025-01-01.csv', 'earlier', 'demo', 'loaded', 2, now());
insert into raw.order_lines (order_id, ordered_at, product_id, quantity, unit_price, currency, source, file_id, source_line)
values ('O1', '2025-01-01 10:00+00', 'P1', 2, 9.90, 'EUR', 'demo', 1, 2),
       ('O2', '2025-01-01 11:00+00', 'P1', 1, 9.90, 'EUR', 'demo', 1, 3);
"""


def test_lines_loaded_before_raw_order_lines_was_partitioned_are_kept_and_still_replaced(scratch_warehouse, tmp_path):
    with psycopg.connect(scratch_warehouse, autocommit=True) as conn:
        conn.execute(UNPARTITIONED_SCHEMA)
    write(tmp_path / "orders_2025-01-02.csv", "O1,2025-01-01T10:00:00+00:00,C1,P1,Mug,Home,3,9.90,EUR,DE,completed,web")
    summary = load(scratch_warehouse, tmp_path)
    assert summary.files[0].orders_replaced == 1
    assert partitions(scratch_warehouse) == ["raw.order_lines_before_partitioning", "raw.order_lines_file_2"]
    assert rows(scratch_warehouse, "select order_id, quantity, file_id from raw.order_lines order by order_id") == [
        ("O1", 3, 2),
        ("O2", 1, 1),
    ]
    assert rows(scratch_warehouse, "select order_id, is_sale, file_id from raw.order_parts order by order_id") == [
        ("O1", True, 2),
        ("O2", True, 1),
    ]
    assert_directory_places_every_part(scratch_warehouse)


# --- the order directory (raw.order_id_blocks and raw.order_parts, ingestion/schema.sql) ----------

# Rows where the directory does not place an order part in the file holding its lines; blocks that
# overlap would place some parts twice.
DIRECTORY_DISAGREEMENTS = """
with parts as (
    select order_id, quantity > 0 as is_sale, file_id from raw.order_lines group by 1, 2, 3
)
select parts.order_id, parts.is_sale, parts.file_id, coalesce(part.file_id, block.file_id) as placed_in
from parts
left join raw.order_parts as part using (order_id, is_sale)
left join raw.order_id_blocks as block on parts.order_id between block.first_order_id and block.last_order_id
where coalesce(part.file_id, block.file_id) is distinct from parts.file_id
"""
OVERLAPPING_BLOCKS = """
select earlier.file_id, later.file_id from raw.order_id_blocks as earlier join raw.order_id_blocks as later
on earlier.file_id < later.file_id
    and earlier.first_order_id <= later.last_order_id and later.first_order_id <= earlier.last_order_id
"""
PARTS_IN_SEVERAL_FILES = """
select order_id, quantity > 0 from raw.order_lines group by 1, 2 having count(distinct file_id) > 1
"""


def assert_directory_places_every_part(url: str) -> None:
    assert rows(url, OVERLAPPING_BLOCKS) == []
    assert rows(url, PARTS_IN_SEVERAL_FILES) == []
    assert rows(url, DIRECTORY_DISAGREEMENTS) == []


def expected_after_corrections(paths: list[Path]) -> tuple[list[tuple], list[int]]:
    """What the contract says raw.order_lines holds after loading `paths` in name order, worked out
    without the database: each file's order parts (sale lines, return lines) replace the same parts'
    earlier lines. Also the number of orders each file replaced."""
    import csv
    from collections import defaultdict

    current: dict[tuple[str, bool], list[tuple]] = {}
    replaced_per_file = []
    for path in sorted(paths, key=lambda path: path.name):
        parts: dict[tuple[str, bool], list[tuple]] = defaultdict(list)
        with path.open(newline="", encoding="utf-8") as handle:
            for line in csv.DictReader(handle):
                quantity = int(line["quantity"])
                parts[line["order_id"], quantity > 0].append((line["order_id"], line["product_id"], quantity, path.name))
        replaced_per_file.append(len({order_id for order_id, is_sale in parts if (order_id, is_sale) in current}))
        current.update(parts)
    return sorted(line for lines in current.values() for line in lines), replaced_per_file


def loaded_lines(url: str) -> list[tuple]:
    return sorted(
        rows(
            url,
            "select order_id, product_id, quantity, file_name from raw.order_lines join ops.ingested_files using (file_id)",
        )
    )


def test_corrections_over_many_files_match_the_contract_and_the_directory_stays_exact(scratch_warehouse, tmp_path):
    from datetime import timedelta
    from shutil import move

    from ingestion.demo_data import DEFAULT_START, generate_orders

    # 40 days of a shop (late orders, re-sent orders, returns and cancellations), loaded as 25 days,
    # then a day of another shop whose order numbers restart at 1 (it re-sends orders of the first
    # days and brings others into the gaps between earlier files' orders), then the shop's last days.
    shop, other_shop = tmp_path / "shop", tmp_path / "other_shop"
    generate_orders(shop, orders=4000, days=40, seed=21)
    generate_orders(other_shop, orders=250, days=1, seed=22, start=DEFAULT_START + timedelta(days=24))
    (other_file,) = other_shop.iterdir()
    landing = tmp_path / "landing"
    landing.mkdir()
    for path in shop.iterdir():
        move(path, landing / path.name)
    move(other_file, landing / other_file.name.replace(".csv", "_other-shop.csv"))
    paths = sorted(landing.iterdir())

    summary = load(scratch_warehouse, landing)

    assert [result.status for result in summary.files] == ["loaded"] * len(paths)
    lines, replaced_per_file = expected_after_corrections(paths)
    assert loaded_lines(scratch_warehouse) == lines
    assert [result.orders_replaced for result in summary.files] == replaced_per_file
    assert sum(replaced_per_file) > 250  # re-sent orders, returns of returned ones, the other shop's day
    assert_directory_places_every_part(scratch_warehouse)
    # Most parts are placed by their file's block; a row each for the rest.
    ((directory_rows, parts),) = rows(
        scratch_warehouse,
        "select (select count(*) from raw.order_parts), (select count(distinct (order_id, quantity > 0)) from raw.order_lines)",
    )
    assert directory_rows < parts / 4


def test_a_correction_reaches_a_partition_from_long_ago(scratch_warehouse, tmp_path):
    write(tmp_path / "orders_2025-01-01.csv", "A1,2025-01-01T10:00:00+00:00,C1,P1,Mug,Home,2,9.90,EUR,DE,completed,web")
    for day in range(2, 31):
        write(tmp_path / f"orders_2025-01-{day:02}.csv", f"A{day:02},2025-01-{day:02}T10:00:00+00:00,C1,P1,Mug,Home,1,9.90,EUR,DE,completed,web")
    load(scratch_warehouse, tmp_path)
    write(
        tmp_path / "orders_2025-02-01.csv",
        "A1,2025-01-01T10:00:00+00:00,C1,P1,Mug,Home,3,9.90,EUR,DE,completed,web",  # re-sent sale
        "A1,2025-02-01T09:00:00+00:00,C1,P1,Mug,Home,-1,9.90,EUR,DE,returned,web",  # its first return
    )
    write(tmp_path / "orders_2025-02-02.csv", "A1,2025-02-02T09:00:00+00:00,C1,P1,Mug,Home,-2,9.90,EUR,DE,returned,web")
    summary = load(scratch_warehouse, tmp_path)
    assert [(result.status, result.orders_replaced) for result in summary.files[-2:]] == [("loaded", 1), ("loaded", 1)]
    assert rows(scratch_warehouse, "select quantity, file_id from raw.order_lines where order_id = 'A1' order by quantity") == [
        (-2, 32),
        (3, 31),
    ]
    assert rows(scratch_warehouse, "select count(*) from raw.order_lines_file_1") == [(0,)]
    assert_directory_places_every_part(scratch_warehouse)


def test_an_order_id_between_an_earlier_files_orders_is_new_there(scratch_warehouse, tmp_path):
    write(
        tmp_path / "orders_2025-01-01.csv",
        "O1,2025-01-01T10:00:00+00:00,C1,P1,Mug,Home,1,9.90,EUR,DE,completed,web",
        "O3,2025-01-01T11:00:00+00:00,C1,P1,Mug,Home,1,9.90,EUR,DE,completed,web",
    )
    # O2 lies in the first file's block of order ids, but the first file had no O2.
    write(tmp_path / "orders_2025-01-02.csv", "O2,2025-01-01T10:30:00+00:00,C1,P1,Mug,Home,1,9.90,EUR,DE,completed,web")
    write(
        tmp_path / "orders_2025-01-03.csv",
        "O2,2025-01-01T10:30:00+00:00,C1,P1,Mug,Home,5,9.90,EUR,DE,completed,web",
        "O3,2025-01-01T11:00:00+00:00,C1,P1,Mug,Home,5,9.90,EUR,DE,completed,web",
    )
    summary = load(scratch_warehouse, tmp_path)
    assert [result.orders_replaced for result in summary.files] == [0, 0, 2]
    assert rows(scratch_warehouse, "select order_id, quantity, file_id from raw.order_lines order by order_id") == [
        ("O1", 1, 1),
        ("O2", 5, 3),
        ("O3", 5, 3),
    ]
    assert rows(scratch_warehouse, "select file_id, first_order_id, last_order_id from raw.order_id_blocks") == [(1, "O1", "O3")]
    assert_directory_places_every_part(scratch_warehouse)


def test_a_warehouse_loaded_before_the_order_directory_gets_it_filled(scratch_warehouse, tmp_path):
    write(
        tmp_path / "orders_2025-01-01.csv",
        "O1,2025-01-01T10:00:00+00:00,C1,P1,Mug,Home,2,9.90,EUR,DE,completed,web",
        "O2,2025-01-01T11:00:00+00:00,C1,P1,Mug,Home,1,9.90,EUR,DE,completed,web",
    )
    write(tmp_path / "orders_2025-01-02.csv", "O2,2025-01-02T11:00:00+00:00,C1,P1,Mug,Home,-1,9.90,EUR,DE,returned,web")
    load(scratch_warehouse, tmp_path)
    # The warehouse as the loader left it before the directory existed.
    with psycopg.connect(scratch_warehouse, autocommit=True) as conn:
        conn.execute("drop table raw.order_parts, raw.order_id_blocks")
    write(
        tmp_path / "orders_2025-01-03.csv",
        "O1,2025-01-01T10:00:00+00:00,C1,P1,Mug,Home,4,9.90,EUR,DE,completed,web",
        "O2,2025-01-03T11:00:00+00:00,C1,P1,Mug,Home,-2,9.90,EUR,DE,returned,web",
        "O9,2025-01-03T12:00:00+00:00,C1,P1,Mug,Home,1,9.90,EUR,DE,completed,web",
    )
    summary = load(scratch_warehouse, tmp_path)
    assert summary.files[-1].orders_replaced == 2
    assert rows(scratch_warehouse, "select order_id, quantity, file_id from raw.order_lines order by order_id, quantity") == [
        ("O1", 4, 3),
        ("O2", -2, 3),
        ("O2", 1, 1),
        ("O9", 1, 3),
    ]
    assert rows(scratch_warehouse, "select file_id, first_order_id, last_order_id from raw.order_id_blocks") == [(3, "O9", "O9")]
    assert_directory_places_every_part(scratch_warehouse)
