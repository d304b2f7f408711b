"""Dagster metadata helpers: results shown in the UI, not only logged."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import dagster as dg
import psycopg
from psycopg import sql


def markdown_table(columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> dg.MarkdownMetadataValue:
    def cell(value: Any) -> str:
        return "" if value is None else str(value).replace("|", "\\|").replace("\n", " ")

    lines = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    lines += ["| " + " | ".join(cell(value) for value in row) + " |" for row in rows]
    return dg.MetadataValue.md("\n".join(lines))


def table_preview(conninfo: str, schema: str, table: str, order_by: str = "1", limit: int = 10) -> dg.MarkdownMetadataValue:
    query = sql.SQL("select * from {}.{} order by {} limit {}").format(
        sql.Identifier(schema), sql.Identifier(table), sql.SQL(order_by), sql.Literal(limit)
    )
    with psycopg.connect(conninfo) as conn:
        cursor = conn.execute(query)
        columns = [column.name for column in cursor.description]
        return markdown_table(columns, cursor.fetchall())


def table_metadata(conninfo: str, schema: str, table: str, order_by: str = "1") -> dict:
    """Row count (Dagster's standard key, charted in the UI) and a preview of a table."""
    with psycopg.connect(conninfo) as conn:
        (rows,) = conn.execute(
            sql.SQL("select count(*) from {}.{}").format(sql.Identifier(schema), sql.Identifier(table))
        ).fetchone()
    return {"dagster/row_count": rows, "preview": table_preview(conninfo, schema, table, order_by)}
