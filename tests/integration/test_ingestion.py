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
