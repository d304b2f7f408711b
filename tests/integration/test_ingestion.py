"""The loader against the real PostgreSQL: exactly once, corrections replace, bad rows explained."""

from dataclasses import replace
from datetime import date
from decimal import Decimal
from pathlib import Path

import psycopg
import pytest

from ingestion.exchange_rates import coverage, read_rates
from ingestion.loader import load_landing
from ingestion.sources import MappingSet, load_mappings
from ingestion.transform import ValueRules

pytestmark = pytest.mark.integration

HEADER = "order_id,ordered_at,customer_id,product_id,product_name,category,quantity,unit_price,currency,country,status,channel"


def write(path: Path, *rows: str, header: str = HEADER) -> Path:
    path.write_text("\n".join([header, *rows]) + "\n", encoding="utf-8")
    return path


def tolerant(mappings: MappingSet) -> MappingSet:
    """The mappings with no quarantine limit: these tests look at single bad rows in tiny files."""
    return MappingSet(
        [replace(m, spec=m.spec.model_copy(update={"max_quarantined_share": 1.0})) for m in mappings.mappings], mappings.errors
    )


def load(url: str, landing: Path):
    return load_landing(url, landing, tolerant(load_mappings()))


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
        ("O1,2025-01-01T10:00:00,C1,P1,Mug,Home,1,9.90,EUR,Germany,,", "country is not an ISO 3166 code"),
        ("O1,1999-12-31T10:00:00,C1,P1,Mug,Home,1,9.90,EUR,DE,,", "ordered_at is before 2000-01-01"),
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


def test_the_caller_s_rules_set_the_earliest_date_and_the_exchange_rates(scratch_warehouse, tmp_path):
    write(
        tmp_path / "orders_2024-06-01.csv",
        "O1,2024-06-01T00:00:00+00:00,C1,P1,Mug,Home,1,9.90,EUR,de,completed,web",
        "O2,2024-05-31T23:59:59+00:00,C1,P1,Mug,Home,1,9.90,EUR,DE,completed,web",
        "O3,2024-06-02T10:00:00+00:00,C1,P1,Mug,Home,1,9.90,EUR,,completed,web",
        "O4,2024-06-02T10:00:00+00:00,C1,P1,Mug,Home,1,9.90,RUB,,completed,web",
    )
    rules = ValueRules(earliest_order_date=date(2024, 6, 1), exchange_rates=coverage(read_rates(tmp_path / "no-newer-rates")))
    summary = load_landing(scratch_warehouse, tmp_path, tolerant(load_mappings()), rules=rules)
    assert (summary.rows_loaded, summary.rows_quarantined) == (2, 2)
    assert rows(scratch_warehouse, "select order_id, country from raw.order_lines order by 1") == [("O1", "DE"), ("O3", None)]
    assert rows(scratch_warehouse, "select source_line, reason from quarantine.order_lines order by 1") == [
        (3, "ordered_at is before 2024-06-01"),
        (5, "no ECB exchange rate for RUB on 2024-06-02"),
    ]


@pytest.mark.parametrize(
    "content, message",
    [
        (b"", "empty file"),
        ((HEADER + "\n").encode(), "empty file"),
        (b"order_id,ordered_at,quantity,unit_price\nO1,2025-01-01,1,2.00\n", "missing required column"),
        ((HEADER + "\nO1,2025-01-01T10:00:00,C1,P1,Caf\xe9,Home,1,9.90,EUR,DE,,\n").encode("latin-1"), "UTF8"),
        # A column no mapping reads, named twice: which is which cannot be told.
        (
            (HEADER + ",note,note\nO1,2025-01-01T10:00:00,C1,P1,Mug,Home,1,9.90,EUR,DE,,,a,b\n").encode(),
            "named more than once in the header: note",
        ),
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


@pytest.mark.parametrize(
    "file_format, gzip", [("csv", False), ("csv", True), ("jsonl", False), ("jsonl", True), ("parquet", False)]
)
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
    assert {
        "missing order_id",
        "missing product_id",
        "quantity is zero",
        "unit_price is negative",
        "unknown currency code",
        "ordered_at is in the future",
    } <= reasons


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
        [
            sys.executable,
            "-c",
            "import sys; from pathlib import Path; from ingestion.loader import load_landing; from ingestion.sources import load_mappings;"
            " load_landing(sys.argv[1], Path(sys.argv[2]), load_mappings())",
            scratch_warehouse,
            str(tmp_path),
        ],
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


def test_a_mostly_quarantined_file_is_rejected_whole_with_its_top_reasons(scratch_warehouse, tmp_path):
    good = [f"O{i},2025-01-01T10:00:00+00:00,C1,P1,Mug,Home,1,9.90,EUR,DE,completed,web" for i in range(18)]
    bad = ["B1,2025-01-01T10:00:00+00:00,C1,P1,Mug,Home,0,9.90,EUR,DE,completed,web", "B2,,C1,P1,Mug,Home,1,9.90,EUR,DE,,"]
    write(tmp_path / "orders_2025-01-01.csv", *good, *bad)  # 2 of 20 rows: 10%, more than the default 5%
    summary = load_landing(scratch_warehouse, tmp_path, load_mappings())
    (result,) = summary.files
    assert result.status == "rejected"
    assert "2 of 20 rows (10.0%) would be quarantined" in result.error
    assert "quantity is zero: 1 (e.g. line 20)" in result.error and "missing ordered_at: 1 (e.g. line 21)" in result.error
    assert rows(scratch_warehouse, "select count(*) from raw.order_lines") == [(0,)]
    assert rows(scratch_warehouse, "select status, rows_loaded from ops.ingested_files") == [("rejected", 0)]


def test_a_rejected_file_loads_again_once_its_mapping_changed_and_a_loaded_one_on_request(scratch_warehouse, tmp_path):
    sources = tmp_path / "sources"
    sources.mkdir()
    landing = tmp_path / "landing"
    landing.mkdir()
    mapping = "name: till\nidentify: [Bon, Zeit, Artikel, Menge, Summe]\ncolumns: {order_id: Bon, ordered_at: Zeit, product_id: Artikel, quantity: Menge, unit_price: Summe}\nconstants: {currency: EUR}\n"
    (sources / "till.yaml").write_text(mapping)
    (landing / "till.csv").write_text('Bon,Zeit,Artikel,Menge,Summe\nB1,01.02.2025 10:00,P1,2,"5,00"\n')

    first = load_landing(scratch_warehouse, landing, load_mappings([sources]))
    assert first.files[0].status == "rejected" and "unit_price is not a number: 1 (e.g. line 2)" in first.files[0].error
    again = load_landing(scratch_warehouse, landing, load_mappings([sources]))
    assert again.files[0].status == "skipped" and "rejected before by mapping till@" in again.files[0].error

    (sources / "till.yaml").write_text(mapping + "timestamp_format: '%d.%m.%Y %H:%M'\ncsv: {decimal_separator: ','}\n")
    fixed = load_landing(scratch_warehouse, landing, load_mappings([sources]))
    assert (fixed.files[0].status, fixed.files[0].rows_loaded) == ("loaded", 1)
    assert rows(scratch_warehouse, "select quantity * unit_price from raw.order_lines") == [(Decimal("10.00"),)]

    skipped = load_landing(scratch_warehouse, landing, load_mappings([sources]))
    assert skipped.files[0].status == "skipped" and "ecom ingest --reload FILE" in skipped.files[0].error
    reloaded = load_landing(scratch_warehouse, landing, load_mappings([sources]), reload=frozenset({"till.csv"}))
    assert (reloaded.files[0].status, reloaded.files[0].orders_replaced) == ("loaded", 1)
    assert rows(scratch_warehouse, "select count(*) from raw.order_lines") == [(1,)]
    assert rows(
        scratch_warehouse, "select status, count(distinct mapping_version) from ops.ingested_files group by 1 order by 1"
    ) == [
        ("loaded", 1),
        ("rejected", 1),
    ]


def test_a_file_no_mapping_reads_is_reported_with_its_header_and_the_rest_loads(scratch_warehouse, tmp_path):
    (tmp_path / "bestellungen.csv").write_text("Bestellung,Datum,Menge\n1,2025-01-01,2\n")
    write(tmp_path / "orders_2025-01-01.csv", "O1,2025-01-01T10:00:00+00:00,C1,P1,Mug,Home,2,9.90,EUR,DE,completed,web")
    summary = load_landing(scratch_warehouse, tmp_path, load_mappings())
    assert [(f.file_name, f.status) for f in summary.files] == [
        ("bestellungen.csv", "unmatched"),
        ("orders_2025-01-01.csv", "loaded"),
    ]
    assert "no source mapping matches its header [Bestellung, Datum, Menge]" in summary.files[0].error
    assert [f.file_name for f in summary.problems] == ["bestellungen.csv"]


def test_any_file_name_loads_and_is_stored_readably(scratch_warehouse, tmp_path):
    import gzip
    import json
    import os

    import pyarrow as pa
    import pyarrow.parquet as pq

    line = "O{n},2025-01-0{n}T10:00:00+00:00,C1,P1,Mug,Home,1,9.90,EUR,DE,completed,web"
    # Bytes that are not UTF-8 (a name from a Latin-1 system), blanks, quotes and a line break.
    odd = tmp_path / os.fsdecode(b"orders 1 \xe9t\xe9 'quoted\" \n.csv")
    write(odd, line.format(n=1), "O9,2025-01-01T10:00:00+00:00,C1,P1,Mug,Home,0,9.90,EUR,DE,completed,web")
    write(tmp_path / "ORDERS_2.CSV", line.format(n=2))
    record = dict(zip(HEADER.split(","), line.format(n=3).split(","), strict=True))
    with gzip.open(tmp_path / "orders_3.JSONL.GZ", "wt") as handle:
        handle.write(json.dumps(record) + "\n")
    columns = dict(zip(HEADER.split(","), line.format(n=4).split(","), strict=True))
    with open(tmp_path / os.fsdecode(b"orders_4\xff.Parquet"), "wb") as handle:  # Arrow takes names as UTF-8 only
        pq.write_table(pa.table({name: [value] for name, value in columns.items()}), handle)

    summary = load(scratch_warehouse, tmp_path)
    odd_name = "orders 1 \ufffdt\ufffd 'quoted\" \ufffd.csv"
    assert sorted((f.file_name, f.status, f.rows_loaded) for f in summary.files) == [
        ("ORDERS_2.CSV", "loaded", 1),
        (odd_name, "loaded", 1),
        ("orders_3.JSONL.GZ", "loaded", 1),
        ("orders_4\ufffd.Parquet", "loaded", 1),
    ]
    assert rows(scratch_warehouse, "select file_name from ops.ingested_files order by 1") == [
        ("ORDERS_2.CSV",),
        (odd_name,),
        ("orders_3.JSONL.GZ",),
        ("orders_4\ufffd.Parquet",),
    ]
    assert rows(scratch_warehouse, "select file_name, reason from quarantine.order_lines") == [(odd_name, "quantity is zero")]
    # Loaded again on request by its name on disk or as shown.
    again = load_landing(
        scratch_warehouse, tmp_path, tolerant(load_mappings()), reload=frozenset({odd_name, "orders_4\ufffd.Parquet"})
    )
    assert sorted(f.file_name for f in again.files if f.status == "loaded") == [odd_name, "orders_4\ufffd.Parquet"]


GOOD_LINE = "O1,2025-01-01T10:00:00+00:00,C1,P1,Mug,Home,1,9.90,EUR,DE,completed,web"


def test_links_and_special_files_are_refused_not_followed_and_the_rest_loads(scratch_warehouse, tmp_path):
    import os

    landing, outside = tmp_path / "landing", tmp_path / "outside"
    landing.mkdir()
    outside.mkdir()
    write(outside / "orders_2025-01-01.csv", GOOD_LINE.replace("O1", "OUTSIDE"))
    (landing / "orders_2025-01-01.csv").symlink_to(outside / "orders_2025-01-01.csv")
    (landing / "shared").symlink_to(outside)
    os.mkfifo(landing / "orders_2025-01-02.csv")  # reading it would wait for a writer for ever
    write(landing / "orders_2025-01-03.csv", GOOD_LINE)

    summary = load(scratch_warehouse, landing)
    assert sorted((f.file_name, f.status) for f in summary.files) == [
        ("orders_2025-01-01.csv", "refused"),
        ("orders_2025-01-02.csv", "refused"),
        ("orders_2025-01-03.csv", "loaded"),
        ("shared", "refused"),
    ]
    assert {f.file_name for f in summary.problems} == {"orders_2025-01-01.csv", "orders_2025-01-02.csv", "shared"}
    assert rows(scratch_warehouse, "select order_id from raw.order_lines") == [("O1",)]


def test_a_file_still_being_written_waits_and_loads_once_stable(scratch_warehouse, tmp_path):
    import threading
    import time

    # Written a moment ago and complete: the run waits out the stable time and loads it.
    write(tmp_path / "orders_2025-01-01.csv", GOOD_LINE)
    started = time.monotonic()
    summary = load_landing(scratch_warehouse, tmp_path, load_mappings(), stable_seconds=1)
    assert [(f.status, f.rows_loaded) for f in summary.files] == [("loaded", 1)]
    assert time.monotonic() - started >= 0.5

    # Still being written when the run looks: waiting, nothing of it loaded; a later run loads all of it.
    growing = tmp_path / "orders_2025-01-02.csv"
    write(growing, "O2,2025-01-02T10:00:00+00:00,C1,P1,Mug,Home,1,9.90,EUR,DE,completed,web")
    stop = threading.Event()

    def append() -> None:
        number = 3
        while not stop.wait(0.2):
            with growing.open("a") as handle:
                handle.write(f"O{number},2025-01-02T10:00:00+00:00,C1,P1,Mug,Home,1,9.90,EUR,DE,completed,web\n")
            number += 1

    writer = threading.Thread(target=append)
    writer.start()
    try:
        summary = load_landing(scratch_warehouse, tmp_path, load_mappings(), stable_seconds=1)
    finally:
        stop.set()
        writer.join()
    assert [(f.file_name, f.status) for f in summary.files] == [
        ("orders_2025-01-02.csv", "waiting"),
        ("orders_2025-01-01.csv", "skipped"),
    ]
    assert "still being written" in summary.files[0].error
    assert rows(scratch_warehouse, "select count(*) from raw.order_lines where file_id > 1") == [(0,)]
    written = len(growing.read_text().splitlines()) - 1
    summary = load_landing(scratch_warehouse, tmp_path, load_mappings(), stable_seconds=1)
    assert [(f.status, f.rows_loaded) for f in summary.files] == [("skipped", 0), ("loaded", written)]


def test_a_file_written_to_during_its_load_is_rolled_back_and_loaded_later(scratch_warehouse, tmp_path, monkeypatch):
    import ingestion.loader

    path = write(tmp_path / "orders_2025-01-01.csv", GOOD_LINE)
    load_rows = ingestion.loader._load_rows

    def load_rows_then_append(conn, path, *args):
        loaded = load_rows(conn, path, *args)
        with path.open("a") as handle:
            handle.write(GOOD_LINE.replace("O1", "O2") + "\n")
        return loaded

    monkeypatch.setattr(ingestion.loader, "_load_rows", load_rows_then_append)
    summary = load(scratch_warehouse, tmp_path)
    assert [(f.status, f.error) for f in summary.files] == [
        ("waiting", "changed while it was being loaded: a later run loads it")
    ]
    assert rows(scratch_warehouse, "select count(*) from raw.order_lines union all select count(*) from ops.ingested_files") == [
        (0,),
        (0,),
    ]
    monkeypatch.undo()
    assert load(scratch_warehouse, tmp_path).rows_loaded == 2 == len(path.read_text().splitlines()) - 1


def test_parquet_as_pandas_writes_it_loads_nanoseconds_nested_columns_and_floats(scratch_warehouse, tmp_path):
    import pandas as pd
    import pyarrow.parquet as pq

    frame = pd.DataFrame(
        {
            "order_id": ["O1", "O2", "O3"],
            # Nanoseconds, as pandas writes timestamps by default (before 3.0, and still for many sources).
            "ordered_at": pd.to_datetime(
                ["2025-01-01 10:00:00.123456789", "2025-01-02 11:00:00", "2025-01-03 12:00:00"], format="ISO8601"
            ).astype("datetime64[ns]"),
            "product_id": ["P1", "P2", "P3"],
            "quantity": [2.0, 1.0, 3.0],
            "unit_price": [9.9, 1e-07, 0.1 + 0.2],
            "currency": ["EUR", "EUR", "EUR"],
            "shipped_at": pd.to_datetime(["2025-01-02 10:00:00"] * 3).astype("datetime64[ns]").tz_localize("Europe/Berlin"),
            # Columns no mapping reads, of types that have no text form.
            "address": [{"city": "Berlin", "zip": "10115"}] * 3,
            "tags": [["gift", "rush"], [], ["b2b"]],
        }
    )
    frame.to_parquet(tmp_path / "orders_2025-01-01.parquet")
    assert str(pq.read_schema(tmp_path / "orders_2025-01-01.parquet").field("ordered_at").type) == "timestamp[ns]"
    summary = load(scratch_warehouse, tmp_path)
    assert [(f.status, f.rows_loaded, f.rows_quarantined) for f in summary.files] == [("loaded", 3, 0)], summary.files
    assert rows(
        scratch_warehouse,
        "select order_id, to_char(ordered_at at time zone 'UTC', 'YYYY-MM-DD HH24:MI:SS.US'), quantity, unit_price::text"
        " from raw.order_lines order by 1",
    ) == [
        ("O1", "2025-01-01 10:00:00.123456", 2, "9.90"),
        ("O2", "2025-01-02 11:00:00.000000", 1, "0.00"),
        ("O3", "2025-01-03 12:00:00.000000", 3, "0.30"),
    ]

    frame.drop(columns="quantity").rename(columns={"address": "quantity"}).to_parquet(tmp_path / "orders_2025-01-02.parquet")
    (rejected,) = [f for f in load(scratch_warehouse, tmp_path).files if f.file_name == "orders_2025-01-02.parquet"]
    assert rejected.status == "rejected"
    assert rejected.error == "column quantity holds struct<city: string, zip: string>, not one value per row"


def test_a_csv_field_of_several_megabytes_loads(scratch_warehouse, tmp_path):
    name = "A very long product description. " * 150_000  # 5 MB, five times Arrow's first block size
    write(
        tmp_path / "orders_2025-01-01.csv",
        *[GOOD_LINE.replace("O1", f"O{i}") for i in range(1, 2001)],
        f'B1,2025-01-01T10:00:00+00:00,C1,P1,"{name}",Home,1,9.90,EUR,DE,completed,web',
        "M1,2025-01-01,too,few",
        GOOD_LINE.replace("O1", "Z1"),
    )
    summary = load(scratch_warehouse, tmp_path)
    assert [(f.status, f.rows_loaded, f.rows_quarantined) for f in summary.files] == [("loaded", 2002, 1)]
    assert rows(
        scratch_warehouse,
        "select order_id, source_line, length(product_name) from raw.order_lines where order_id in ('B1', 'Z1') order by 1",
    ) == [
        ("B1", 2002, len(name.strip())),
        ("Z1", 2004, 3),
    ]
    assert rows(scratch_warehouse, "select source_line from quarantine.order_lines") == [(2003,)]


def test_json_lines_numbers_are_numbers_and_a_byte_order_mark_is_ignored(scratch_warehouse, tmp_path):
    import codecs
    import json

    base = {"ordered_at": "2025-01-01T10:00:00Z", "product_id": "P1", "currency": "EUR"}
    records = [
        {"order_id": "O1", "quantity": 2.0, "unit_price": 1e-07},
        {"order_id": 17850.0, "quantity": 1, "unit_price": 12.5},
        {"order_id": "O3", "quantity": 1e2, "unit_price": 2.50},
        {"order_id": "O4", "quantity": 1.5, "unit_price": 2},
        {"order_id": "O5", "quantity": 1, "unit_price": 1.5},
        {"order_id": "O6", "quantity": 1, "unit_price": 1e30},
        {"order_id": "O7", "quantity": 7, "unit_price": 1},
    ]
    lines = [json.dumps(base | record) for record in records]
    # As other writers write them, and a number no float holds.
    lines[2] = lines[2].replace("100.0", "1E+2").replace("2.5", "2.50")
    lines[4] = lines[4].replace("1.5", "1e999999999")
    lines[6] = lines[6].replace('"quantity": 7', '"quantity": ' + "7" * 5000)  # more digits than Python reads as an int
    (tmp_path / "orders_2025-01-01.jsonl").write_bytes(codecs.BOM_UTF8 + "\n".join(lines).encode() + b"\n")
    summary = load(scratch_warehouse, tmp_path)
    assert [(f.status, f.rows_loaded, f.rows_quarantined) for f in summary.files] == [("loaded", 3, 4)]
    assert rows(scratch_warehouse, "select order_id, quantity, unit_price::text from raw.order_lines order by source_line") == [
        ("O1", 2, "0.00"),
        ("17850", 1, "12.50"),
        ("O3", 100, "2.50"),
    ]
    assert rows(scratch_warehouse, "select source_line, reason from quarantine.order_lines order by 1") == [
        (4, "quantity is not an integer"),
        (5, "malformed JSON: the number 1e999999999 is out of range"),
        (6, "unit_price is not a number"),
        (7, "malformed JSON: the number 77777777777777777777 is out of range"),
    ]


def test_a_parquet_file_naming_a_column_twice_is_rejected(scratch_warehouse, tmp_path):
    import pyarrow as pa
    import pyarrow.parquet as pq

    names = [*HEADER.split(","), "note", "note"]
    values = [*GOOD_LINE.split(","), "a", "b"]
    pq.write_table(
        pa.Table.from_arrays([pa.array([value]) for value in values], names=names), tmp_path / "orders_2025-01-01.parquet"
    )
    (result,) = load(scratch_warehouse, tmp_path).files
    assert (result.status, result.error) == ("rejected", "column(s) named more than once in the header: note")


LOAD_AT = """
import json, sys, time
from pathlib import Path
from ingestion.loader import load_landing
from ingestion.sources import load_mappings
time.sleep(max(0.0, float(sys.argv[3]) - time.time()))
summary = load_landing(sys.argv[1], Path(sys.argv[2]), load_mappings())
print(json.dumps([[result.file_name, result.status, result.rows_loaded] for result in summary.files]))
"""


def test_loaders_starting_at_once_on_a_new_warehouse_create_its_tables_once(scratch_warehouse):
    import threading

    from ingestion.loader import ensure_schema

    connections = [psycopg.connect(scratch_warehouse, autocommit=True) for _ in range(4)]
    together = threading.Barrier(len(connections))
    errors = []

    def start(conn) -> None:
        together.wait()
        try:
            ensure_schema(conn)
        except psycopg.Error as error:  # without a lock: duplicate key value violates pg_type_typname_nsp_index
            errors.append(error)

    threads = [threading.Thread(target=start, args=(conn,)) for conn in connections]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    for conn in connections:
        conn.close()
    assert errors == []
    assert rows(
        scratch_warehouse, "select to_regclass('ops.ingested_files') is not null, to_regclass('raw.order_lines') is not null"
    ) == [(True, True)]


def test_two_loads_at_once_never_crash_and_load_each_file_once(scratch_warehouse, tmp_path):
    import json
    import subprocess
    import sys
    import time

    from ingestion.demo_data import generate_orders

    report = generate_orders(tmp_path, orders=3000, days=6, seed=3)
    (tmp_path / "orders_2025-02-01.csv").write_text("order_id,ordered_at\n")  # rejected by one, skipped by the other
    start = str(time.time() + 3)  # both start together, on a warehouse without any table yet
    loaders = [
        subprocess.Popen(
            [sys.executable, "-c", LOAD_AT, scratch_warehouse, str(tmp_path), start],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(2)
    ]
    outcomes = [loader.communicate(timeout=300) for loader in loaders]
    assert [loader.returncode for loader in loaders] == [0, 0], [err[-3000:] for _, err in outcomes]
    results = [{name: (status, loaded) for name, status, loaded in json.loads(out)} for out, _ in outcomes]
    for name in [*(generated.path.name for generated in report.files), "orders_2025-02-01.csv"]:
        # One of them loaded or rejected it; the other waited for it and skipped it.
        assert sorted(result[name][0] for result in results) in (["loaded", "skipped"], ["rejected", "skipped"]), name
    assert sum(loaded for result in results for _, loaded in result.values()) == report.lines
    files = len(report.files) + 1
    assert rows(scratch_warehouse, "select count(*), count(distinct file_name) from ops.ingested_files") == [(files, files)]
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
        write(
            tmp_path / f"orders_2025-01-{day:02}.csv",
            f"A{day:02},2025-01-{day:02}T10:00:00+00:00,C1,P1,Mug,Home,1,9.90,EUR,DE,completed,web",
        )
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
