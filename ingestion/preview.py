"""`ecom preview FILE`: what loading a file would do, without writing anything anywhere.

It chooses the mapping as a load would, reads and checks the whole file with the same code
(readers.py, transform.py), and reports: the mapping and why, the export's columns against the
contract, the first mapped lines, quarantine counts per reason with an example line each, and the
totals the file would add. Whether the warehouse already holds the file, or which orders it would
replace, needs the warehouse and is for `ecom ingest` to say.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc

from ingestion.readers import FileRejected, read_header, read_records
from ingestion.sources import (
    CONTRACT_COLUMNS,
    REQUIRED_COLUMNS,
    DiscountedPrice,
    FirstOf,
    LineTotal,
    MappingError,
    MappingSet,
    SourceMapping,
    Template,
)
from ingestion.transform import (
    AMOUNT,
    CENTS,
    INSTANT,
    UNITS,
    BatchMapper,
    ValueRules,
)

SAMPLE_COLUMNS = (
    "order_id",
    "ordered_at",
    "customer_id",
    "product_id",
    "quantity",
    "unit_price",
    "currency",
    "country",
    "status",
)


@dataclass
class Totals:
    lines: int = 0
    sale_lines: int = 0
    return_lines: int = 0
    units_sold: int = 0
    units_returned: int = 0
    net_amount: Counter = field(default_factory=Counter)  # currency -> Decimal
    orders: set = field(default_factory=set)
    customers: set = field(default_factory=set)
    first_ordered_at: datetime | None = None
    last_ordered_at: datetime | None = None

    def add(self, lines: pa.Table) -> None:
        if not lines.num_rows:
            return
        quantity = pc.cast(lines["quantity"], pa.int64())
        sold = pc.greater(quantity, 0)
        self.lines += lines.num_rows
        self.sale_lines += pc.sum(pc.cast(sold, pa.int64())).as_py()
        self.return_lines += lines.num_rows - pc.sum(pc.cast(sold, pa.int64())).as_py()
        self.units_sold += pc.sum(pc.if_else(sold, quantity, 0)).as_py()
        self.units_returned -= pc.sum(pc.if_else(sold, 0, quantity)).as_py()
        # As PostgreSQL stores them: numeric(12, 2), more decimals rounded half away from zero.
        unit_prices = pc.cast(pc.round(pc.cast(lines["unit_price"], AMOUNT), 2, round_mode="half_towards_infinity"), CENTS)
        amounts = pc.multiply(unit_prices, pc.cast(lines["quantity"], UNITS))
        by_currency = (
            pa.table({"currency": lines["currency"], "amount": amounts}).group_by("currency").aggregate([("amount", "sum")])
        )
        for currency, amount in zip(by_currency["currency"].to_pylist(), by_currency["amount_sum"].to_pylist(), strict=True):
            self.net_amount[currency] += Decimal(amount)
        self.orders.update(pc.unique(lines["order_id"]).to_pylist())
        self.customers.update(pc.unique(lines["customer_id"].drop_null()).to_pylist())
        first, last = pc.min_max(lines["ordered_at"]).values()
        self.first_ordered_at = min(filter(None, (self.first_ordered_at, first.as_py())))
        self.last_ordered_at = max(filter(None, (self.last_ordered_at, last.as_py())))


@dataclass
class Preview:
    path: Path
    mapping: SourceMapping | None
    why: str
    header: list[str] = field(default_factory=list)
    sample: pa.Table | None = None
    totals: Totals = field(default_factory=Totals)
    quarantined: int = 0
    reasons: list[tuple[str, int, int, str]] = field(default_factory=list)  # reason, rows, example line, raw row
    rejection: str | None = None

    rows: int = 0  # records read


def preview_file(path: Path, mappings: MappingSet, sample_rows: int = 10, rules: ValueRules = ValueRules()) -> Preview:
    choice = mappings.choose(path, read_header)
    if choice.mapping is None:
        return Preview(path, None, choice.reason)
    mapping = choice.mapping
    preview = Preview(path, mapping, choice.reason)
    examples: dict[str, str] = {}
    samples = []
    try:
        stream = read_records(path, mapping)
        preview.header = stream.header
        latest = pa.scalar(datetime.now(UTC).replace(tzinfo=None), INSTANT)
        mapper = BatchMapper(mapping, stream.header, latest, rules)
        for batch in stream.batches:
            checked = mapper.check(batch)
            preview.totals.add(checked.lines)
            preview.quarantined += checked.quarantined.num_rows
            for reason, raw in zip(
                checked.quarantined["reason"].to_pylist(), checked.quarantined["raw_row"].to_pylist(), strict=True
            ):
                examples.setdefault(reason, raw)
            if sum(sample.num_rows for sample in samples) < sample_rows:
                samples.append(checked.lines.slice(0, sample_rows))
    except (FileRejected, MappingError) as rejection:
        preview.rejection = str(rejection)
        return preview
    preview.rows = mapper.records
    preview.sample = pa.concat_tables(samples).slice(0, sample_rows) if samples else None
    preview.reasons = [(reason, rows, line, examples[reason]) for reason, rows, line in mapper.top_reasons(count=20)]
    limit = mapping.spec.max_quarantined_share
    if preview.rows and preview.quarantined / preview.rows > limit:
        preview.rejection = (
            f"{preview.quarantined:,} of {preview.rows:,} rows ({preview.quarantined / preview.rows:.1%}) would be quarantined,"
            f" more than the {limit:.0%} this source allows (max_quarantined_share)"
        )
    return preview


def column_sources(mapping: SourceMapping, header: list[str]) -> list[tuple[str, str, str]]:
    """(contract column, where it comes from, state) for each contract column."""
    present = {name.strip() for name in header}
    rows = []
    for column in CONTRACT_COLUMNS:
        source = mapping.source_of(column)
        required = column in REQUIRED_COLUMNS
        if column in mapping.constants:
            rows.append((column, f"constant {mapping.constants[column]!r}", "ok"))
            continue
        match source:
            case Template():
                wanted, described = source.columns, f"template {source.template!r}"
            case FirstOf():
                wanted, described = source.first_of, "first non-empty of " + ", ".join(map(repr, source.first_of))
            case LineTotal():
                wanted, described = [source.line_total], f"line total {source.line_total!r} / quantity"
            case DiscountedPrice():
                wanted, described = (
                    [source.column, source.discount],
                    f"({source.column!r} x quantity - {source.discount!r}) / quantity",
                )
            case str():
                wanted, described = [source], repr(source)
            case _:
                wanted, described = [source.column], repr(source.column)
        missing = [name for name in wanted if name not in present]
        if isinstance(source, FirstOf) and len(missing) < len(wanted):
            missing = []  # one of them is enough
        state = "ok" if not missing else ("MISSING (required)" if required else "not in the export: empty")
        if column == "currency" and missing and mapping.spec.default_currency:
            state = f"not in the export: {mapping.spec.default_currency} (default_currency)"
        rows.append((column, described, state))
    return rows


def render(preview: Preview) -> str:
    out = [f"File      {preview.path}"]
    if preview.mapping is None:
        out.append(f"Mapping   none: {preview.why}")
        return "\n".join(out)
    mapping = preview.mapping
    out += [f"Mapping   {mapping.name}@{mapping.version} ({mapping.path})", f"          chosen because {preview.why}", ""]
    out.append("Contract column <- export")
    out.append(_table(["column", "from", "state"], column_sources(mapping, preview.header)))
    unread = [name for name in preview.header if name.strip() not in mapping.export_columns()]
    if unread:
        out.append(f"Not read: {', '.join(unread)}")
    if preview.sample is not None and preview.sample.num_rows:
        out += ["", f"First {preview.sample.num_rows} mapped lines"]
        sample = preview.sample
        out.append(
            _table(
                ["line", *SAMPLE_COLUMNS],
                [
                    [sample["source_line"][i].as_py(), *(_text(sample[c][i].as_py()) for c in SAMPLE_COLUMNS)]
                    for i in range(sample.num_rows)
                ],
            )
        )
    totals = preview.totals
    out += [
        "",
        f"Records read {preview.rows:,}: {totals.lines:,} order lines would load, {preview.quarantined:,} records would be quarantined",
    ]
    if preview.reasons:
        out.append(
            _table(
                ["reason", "rows", "e.g. line", "raw row"],
                [[r, f"{n:,}", line, _clip(raw)] for r, n, line, raw in preview.reasons],
            )
        )
    if totals.lines:
        out += [
            "",
            "The file would add",
            f"  orders {len(totals.orders):,}, registered customers {len(totals.customers):,}",
            f"  sale lines {totals.sale_lines:,} ({totals.units_sold:,} units), return lines {totals.return_lines:,} ({totals.units_returned:,} units)",
            f"  ordered {totals.first_ordered_at:%Y-%m-%d %H:%M} .. {totals.last_ordered_at:%Y-%m-%d %H:%M} UTC",
            *(f"  net amount {currency} {amount:,.2f}" for currency, amount in sorted(totals.net_amount.items())),
        ]
    out += ["", f"Verdict   {'REJECTED: ' + preview.rejection if preview.rejection else 'would load'}"]
    return "\n".join(out)


def _text(value) -> str:
    if isinstance(value, datetime):
        return f"{value:%Y-%m-%d %H:%M:%S}"
    return "" if value is None else str(value)


def _clip(text: str, width: int = 70) -> str:
    return text if len(text) <= width else text[: width - 3] + "..."


def _table(headers: list[str], rows: list) -> str:
    cells = [[str(cell) for cell in row] for row in rows]
    widths = [
        max(len(str(header)), *(len(row[i]) for row in cells)) if cells else len(str(header)) for i, header in enumerate(headers)
    ]
    lines = ["  " + "  ".join(str(header).ljust(width) for header, width in zip(headers, widths, strict=True))]
    lines.append("  " + "  ".join("-" * width for width in widths))
    lines += ["  " + "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)) for row in cells]
    return "\n".join(lines)
