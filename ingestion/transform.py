"""Map and validate one file's record batches onto the order-line contract, vectorised with Arrow.

The source mapping (sources.py) says where each contract column comes from; this module applies it to
a batch of text records (readers.py) and splits the result into good order lines and quarantined rows,
each with the first reason it failed (CONTRACT.md). No Python runs per row: every step is an Arrow
compute kernel over whole columns. The loader (loader.py) streams the result into PostgreSQL; `ecom
preview` shows it without writing anything.
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass, field
from datetime import date, datetime, time

import pyarrow as pa
import pyarrow.compute as pc
import pycountry

from ingestion.exchange_rates import RateCoverage
from ingestion.readers import TextBatch
from ingestion.sources import (
    CONTRACT_COLUMNS,
    ISO,
    LINE_NUMBER_FIELD,
    ColumnSource,
    Condition,
    DiscountedPrice,
    FirstOf,
    LineTotal,
    SourceMapping,
    Template,
)

NULL_TEXT = pa.scalar(None, pa.string())
# Instants are UTC wall-clock times without a zone (the load's session is in UTC): Arrow writes those
# as text some thirty times faster than zoned ones.
INSTANT = pa.timestamp("us")
NULL_INSTANT = pa.scalar(None, INSTANT)
FIRST_INSTANT = pa.scalar(datetime(1, 1, 1), INSTANT)  # PostgreSQL has no year 0
ISO_CURRENCIES = pa.array(sorted(currency.alpha_3 for currency in pycountry.currencies))
# ISO 3166-1 alpha-2, plus two user-assigned codes in common use: XK (Kosovo, as the EU and shop
# systems write it) and ZZ (unknown, what the warehouse itself gives a line without a country).
ISO_COUNTRIES = pa.array(sorted({country.alpha_2 for country in pycountry.countries} | {"XK", "ZZ"}))
# Orders before this day are taken for a misread date (a spreadsheet's 1900 or 1970, a two-digit
# year) unless the caller says otherwise (ECOM_EARLIEST_ORDER_DATE).
EARLIEST_ORDER_DATE = date(2000, 1, 1)

FLOAT_ID = r"^([0-9]+)\.0+$"
INTEGER = r"^[+-]?[0-9]{1,9}$"  # fits an `integer`
ZERO = r"^[+-]?0+$"
DECIMAL = r"^[+-]?[0-9]{1,10}([.][0-9]+)?$"  # numeric(12, 2) holds 10 digits before the point
# Amounts and quantities a unit price is computed from exactly, in decimal128(26, 8): price (10 digits)
# x quantity (8 digits) still fits, and so does the quotient's precision.
COMPUTABLE_AMOUNT = r"^[+-]?[0-9]{1,10}([.][0-9]{0,8})?$"
COMPUTABLE_QUANTITY = r"^[+-]?[0-9]{1,8}$"
AMOUNT = pa.decimal128(26, 8)
CENTS = pa.decimal128(14, 2)
UNITS = pa.decimal128(10, 0)
NEGATIVE = r"^-.*[1-9]"  # "-0.00" is zero
# ISO 8601 as PostgreSQL and Arrow both read it: a date, optionally a time, optionally an offset.
ISO_TIMESTAMP = (
    r"^[0-9]{4}-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])"
    r"([T ]([01][0-9]|2[0-3]):[0-5][0-9](:[0-5][0-9]([.][0-9]{1,6})?)?"
    r"(Z|[+-]([01][0-9]|2[0-3])(:?[0-5][0-9])?)?)?$"
)
# Offsets as some exports write them, after a space: `2024-01-15 10:00:00 +0100`, `... UTC`.
SPACED_OFFSET = r"^([0-9-]{10}[T ][0-9:.]{5,15}) ([+-][0-9]{2}(:?[0-9]{2})?)$"
SPACED_UTC = r"^([0-9-]{10}[T ][0-9:.]{5,15}) (UTC|GMT)$"
# Blanks inside amounts: spaces, no-break spaces (French thousands), thin spaces.
AMOUNT_BLANKS = r"[\s\x{00A0}\x{2007}\x{202F}]+"
CURRENCY_MARKS = r"\p{Sc}|^[A-Z]{3}|[A-Z]{3}$"
GROUPED = {".": r"^[+-]?[0-9]{1,3}([,'][0-9]{3})+([.][0-9]*)?$", ",": r"^[+-]?[0-9]{1,3}([.'][0-9]{3})+(,[0-9]*)?$"}
THOUSANDS = {".": r"[,']", ",": r"[.']"}
INEXACT_REASON = "unit_price is not exact to the cent (line total / quantity)"


@dataclass
class _Carry:
    """What fill-forward needs from the previous batch: the last order and its filled values."""

    order: str | None = None
    values: dict[str, str | None] = field(default_factory=dict)


@dataclass(frozen=True)
class CheckedBatch:
    lines: pa.Table  # good order lines, the contract's columns plus source_line
    quarantined: pa.Table  # source_line, reason, raw_row (JSON)


@dataclass(frozen=True)
class ValueRules:
    """What the warehouse accepts beyond the contract's types; the caller sets them (orchestration,
    from its settings and the dbt project): rows outside them are quarantined, not left to fail a
    quality gate downstream."""

    earliest_order_date: date = EARLIEST_ORDER_DATE  # anything earlier is implausible
    # The days each currency has an ECB rate on (ingestion/exchange_rates.py); None: no rate is needed.
    exchange_rates: RateCoverage | None = None
    # Lines in the reporting currency are never converted, so need no rate.
    reporting_currency: str = "EUR"
    # A line's day as the marts cut it, which is the day whose rate converts it.
    reporting_timezone: str = "UTC"


@dataclass
class BatchMapper:
    """Maps and validates one file's batches in order (fill-forward carries over between them), and
    tallies the quarantine reasons with an example line each."""

    mapping: SourceMapping
    header: list[str]
    latest_ordered_at: pa.TimestampScalar  # anything later is in the future
    rules: ValueRules = field(default_factory=lambda: ValueRules())
    records: int = 0  # read so far, malformed ones included (a returned sale gives two lines from one)
    # Lines loaded that are dated after the last ECB publication: converted at its rates.
    lines_after_last_rate: int = 0
    reasons: Counter = field(default_factory=Counter)
    examples: dict[str, int] = field(default_factory=dict)  # reason -> its first line number
    _carry: _Carry = field(default_factory=_Carry)

    def __post_init__(self) -> None:
        names = [name.strip() for name in self.header]
        # The first of repeated names: only blank ones may repeat (the reader rejects a file repeating another).
        self._positions = {name: names.index(name) for name in reversed(names)}

    def check(self, batch: TextBatch) -> CheckedBatch:
        self.records += batch.records.num_rows + len(batch.malformed)
        records = batch.records
        if self.mapping.spec.fill_forward:
            records = self._filled_forward(records)
        values, checks = self._mapped(records, batch.source_lines)
        instants = _instants(values["ordered_at"], self.mapping)
        rate_check = self._without_rates(values["currency"], instants)
        reasons = _first_failures(values, instants, self._plausible_dates("ordered_at", instants), checks, rate_check)
        good = pc.is_null(reasons)
        if rate_check is not None:
            self.lines_after_last_rate += pc.sum(pc.and_(good, rate_check.after_last_rate)).as_py() or 0
        lines = pa.table(
            {column: values[column] for column in CONTRACT_COLUMNS} | {"ordered_at": instants, "source_line": batch.source_lines}
        )
        if reasons.null_count < len(reasons):  # filtering costs even when every row is good
            lines = lines.filter(good)
        if _SALE_RETURNS in values:
            returns = values[_SALE_RETURNS]
            lines = _with_returns_of_sales(lines, returns.filter(good) if reasons.null_count < len(reasons) else returns)
        quarantined = self._quarantined(batch, pc.invert(good), reasons)
        return CheckedBatch(lines, quarantined)

    # --- quarantine -------------------------------------------------------------------------

    def _quarantined(self, batch: TextBatch, bad: pa.Array, reasons: pa.Array) -> pa.Table:
        if batch.raw_records is not None:
            raw_rows = batch.raw_records.filter(bad).to_pylist()
        else:
            raw_rows = _as_json_objects(batch.records.filter(bad))
        lines = batch.source_lines.filter(bad).to_pylist() + [record.source_line for record in batch.malformed]
        reason_texts = reasons.filter(bad).to_pylist() + [record.reason for record in batch.malformed]
        raw_rows += [json.dumps(record.raw, ensure_ascii=False) for record in batch.malformed]
        self.reasons.update(reason_texts)
        for reason, line in zip(reason_texts, lines):
            self.examples.setdefault(reason, line)
        return pa.table(
            {
                "source_line": pa.array(lines, pa.int64()),
                "reason": pa.array(reason_texts, pa.string()),
                "raw_row": pa.array(raw_rows, pa.string()),
            }
        )

    def _plausible_dates(self, name: str, instants: pa.Array) -> dict[str, pa.Array]:
        """The checks that keep `instants` within the plausible range: reason -> failing rows."""
        earliest = pa.scalar(datetime.combine(self.rules.earliest_order_date, time()), INSTANT)
        return {
            f"{name} is before {self.rules.earliest_order_date.isoformat()}": pc.less(instants, earliest),
            f"{name} is in the future": pc.greater(instants, self.latest_ordered_at),
        }

    def _without_rates(self, currency: pa.Array, instants: pa.Array) -> _RateCheck | None:
        """The lines whose currency (or the reporting currency) has no ECB rate on the line's day, with
        the reason naming that currency and day. Per currency of the batch (a handful), vectorised."""
        coverage, reporting = self.rules.exchange_rates, self.rules.reporting_currency
        codes = [code for code in pc.unique(currency).to_pylist() if code is not None and code != reporting]
        if coverage is None or not codes:
            return None
        zone = self.rules.reporting_timezone
        days = pc.local_timestamp(instants.cast(pa.timestamp("us", "UTC")).cast(pa.timestamp("us", zone))).cast(pa.date32())
        reporting_rated = _within(days, coverage.ranges.get(reporting, ()))
        missing = pa.nulls(len(currency), pa.string())
        for code in codes:
            rated = _within(days, coverage.ranges.get(code, ()))
            lacking = pc.if_else(pc.invert(rated), code, pc.if_else(pc.invert(reporting_rated), reporting, NULL_TEXT))
            missing = pc.if_else(pc.equal(currency, code), lacking, missing)
        failed = pc.is_valid(missing)
        reasons = (
            pc.binary_join_element_wise("no ECB exchange rate for ", missing, " on ", days.cast(pa.string()), "")
            if pc.any(failed).as_py()
            else missing
        )
        after_last_rate = pc.and_(
            pc.not_equal(currency, reporting), pc.greater(days, pa.scalar(coverage.last_rate_day, pa.date32()))
        )
        return _RateCheck(failed, reasons, after_last_rate)

    def top_reasons(self, count: int = 3) -> list[tuple[str, int, int]]:
        """(reason, rows, example line) of the most frequent reasons."""
        return [(reason, rows, self.examples[reason]) for reason, rows in self.reasons.most_common(count)]

    # --- mapping ---------------------------------------------------------------------------

    def _export(self, records: pa.RecordBatch, name: str) -> pa.Array:
        """An export column's values, trimmed, null where blank; all null if the file lacks it."""
        position = self._positions.get(name)
        if position is None:
            return pa.nulls(records.num_rows, pa.string())
        return _null_if_blank(records.column(position))

    def _filled_forward(self, records: pa.RecordBatch) -> pa.RecordBatch:
        """Order-level columns copied from an order's first line onto its later lines (within the
        order only: a following order's first line with an empty value stays empty)."""
        spec = self.mapping.spec.fill_forward
        order = self._export(records, spec.order)
        previous = pa.concat_arrays([pa.array([self._carry.order], pa.string()), order.slice(0, len(order) - 1)])
        starts = pc.fill_null(pc.not_equal(order, previous), True)
        columns = list(records.columns)
        for name in spec.columns:
            position = self._positions.get(name)
            if position is None:
                continue
            values = _null_if_blank(records.column(position))
            # A start of an order with no value must not inherit the previous order's: mark it.
            marked = pc.if_else(pc.and_(starts, pc.is_null(values)), "\x00", values)
            carried = pa.array([self._carry.values.get(name)], pa.string())
            filled = pc.fill_null_forward(pa.concat_arrays([carried, marked])).slice(1)
            filled = pc.if_else(pc.equal(filled, "\x00"), NULL_TEXT, filled)
            columns[position] = filled
            if len(filled):
                self._carry.values[name] = filled[-1].as_py()
        if len(order):
            self._carry.order = order[-1].as_py()
        return pa.RecordBatch.from_arrays(columns, names=records.schema.names)

    def _mapped(self, records: pa.RecordBatch, source_lines: pa.Array) -> tuple[dict[str, pa.Array], dict[str, pa.Array]]:
        """Each contract column after the mapping, as text (null where empty), and the extra checks
        the mapping brings (reason -> failing rows)."""
        spec, rows = self.mapping.spec, records.num_rows
        values, checks = {}, {}
        for column in CONTRACT_COLUMNS:
            source = self.mapping.source_of(column)
            if column in self.mapping.constants:
                values[column] = pa.repeat(pa.scalar(self.mapping.constants[column], pa.string()), rows)
            elif isinstance(source, Template):
                values[column] = self._template(records, source, source_lines)
            elif isinstance(source, str | ColumnSource):
                values[column] = self._export(records, source if isinstance(source, str) else source.column)
            elif isinstance(source, FirstOf):
                values[column] = pc.coalesce(*(self._export(records, name) for name in source.first_of))
            else:  # a line total or a discounted price: computed once quantity is known
                values[column] = pa.nulls(rows, pa.string())
        for column in spec.normalise_ids:
            # Spreadsheet exports turn ids into floats: "17850.0" is customer 17850.
            values[column] = pc.replace_substring_regex(values[column], FLOAT_ID, r"\1")
        for column, translation in spec.values.items():
            values[column] = _translated(values[column], translation)
        if spec.default_currency:
            values["currency"] = pc.fill_null(values["currency"], spec.default_currency)
        for rule in spec.rules:
            applies = self._holds(rule.when, records, values)
            values[rule.target] = pc.if_else(applies, rule.value, values[rule.target])
        values["unit_price"], inexact = self._unit_prices(records, values)
        if inexact is not None and spec.inexact_unit_price == "quarantine":
            checks[INEXACT_REASON] = inexact
        self._returns(records, values, checks)
        # Codes in upper case, status and channel in lower case (after the rules, which see the export's values).
        for column in ("currency", "country"):
            values[column] = pc.utf8_upper(values[column])
        for column in ("status", "channel"):
            values[column] = pc.utf8_lower(values[column])
        return values, checks

    def _template(self, records: pa.RecordBatch, template: Template, source_lines: pa.Array) -> pa.Array:
        pieces = []
        for text, is_field in template.parts:
            if not is_field:
                pieces.append(pa.scalar(text, pa.string()))
            elif text == LINE_NUMBER_FIELD:
                pieces.append(pc.cast(source_lines, pa.string()))
            else:
                pieces.append(self._export(records, text))
        # Any empty field leaves the whole value empty: "-2024-01-01" is no order id.
        return pc.binary_join_element_wise(*pieces, "", null_handling="emit_null")

    def _holds(self, condition: Condition, records: pa.RecordBatch, values: dict[str, pa.Array]) -> pa.Array:
        subject = values[condition.column] if condition.column in CONTRACT_COLUMNS else self._export(records, condition.column)
        if condition.not_empty is not None:
            holds = pc.is_valid(subject) if condition.not_empty else pc.is_null(subject)
        elif condition.starts_with is not None:
            holds = pc.starts_with(subject, condition.starts_with)
        else:
            holds = pc.is_in(subject, value_set=pa.array(condition.equals_values, pa.string()))
        return pc.fill_null(holds, False)

    def _unit_prices(self, records: pa.RecordBatch, values: dict[str, pa.Array]) -> tuple[pa.Array, pa.Array | None]:
        """Unit prices as exact decimal text, and where a computed one is not exact to the cent
        (rounded half away from zero to the cent; null where it is exact or cannot be computed)."""
        separator = self.mapping.csv.decimal_separator
        source = self.mapping.source_of("unit_price")
        if not isinstance(source, LineTotal | DiscountedPrice):
            return _amount_text(values["unit_price"], separator), None
        quantity = values["quantity"]
        computable_quantity = pc.and_(
            pc.match_substring_regex(quantity, COMPUTABLE_QUANTITY), pc.invert(pc.match_substring_regex(quantity, ZERO))
        )
        units = pc.cast(pc.if_else(computable_quantity, quantity, "1"), UNITS)
        if isinstance(source, LineTotal):
            total_text = _amount_text(self._export(records, source.line_total), separator)
            computable = pc.match_substring_regex(total_text, COMPUTABLE_AMOUNT)
            total = _decimal(total_text, computable)
        else:
            price_text = _amount_text(self._export(records, source.column), separator)
            discount_text = pc.fill_null(_amount_text(self._export(records, source.discount), separator), "0")
            computable = pc.and_(
                pc.match_substring_regex(price_text, COMPUTABLE_AMOUNT),
                pc.match_substring_regex(discount_text, COMPUTABLE_AMOUNT),
            )
            total = pc.cast(
                pc.subtract(pc.multiply(_decimal(price_text, computable), units), _decimal(discount_text, computable)), AMOUNT
            )
            total_text = price_text  # where the amounts are not numbers, the reason shows the price
        computable = pc.fill_null(pc.and_(computable, computable_quantity), False)
        unit = pc.cast(pc.round(pc.divide(total, units), 2, round_mode="half_towards_infinity"), CENTS)
        exact = pc.equal(pc.multiply(unit, units), total)
        prices = pc.if_else(computable, pc.cast(unit, pa.string()), total_text)
        return prices, pc.and_(computable, pc.invert(exact))

    def _returns(self, records: pa.RecordBatch, values: dict[str, pa.Array], checks: dict[str, pa.Array]) -> None:
        """Apply the mapping's return rules, the first that applies to a line winning. A line that is
        a return gets a negative quantity, a positive unit price and the rule's status; a returned
        sale (`keep_sale`) keeps its sale, and `_SaleReturns` describes the return added to it."""
        if not self.mapping.spec.returns:
            return
        rows = records.num_rows
        decided = pa.repeat(pa.scalar(False), rows)
        units, statuses, dated = pa.repeat(pa.scalar("0"), rows), pa.nulls(rows, pa.string()), pa.nulls(rows, pa.string())
        for rule in self.mapping.spec.returns:
            if rule.units is not None:
                written = pc.fill_null(self._export(records, rule.units), "0")
                is_integer = pc.match_substring_regex(written, INTEGER)
                checks["returned units are not an integer"] = pc.invert(is_integer)
                rule_units = pc.if_else(is_integer, pc.utf8_ltrim(written, "+-"), "0")
                applies = pc.and_(pc.invert(decided), pc.invert(pc.match_substring_regex(rule_units, ZERO)))
            else:
                applies = pc.and_(pc.invert(decided), self._holds(rule.when, records, values))
                if not rule.keep_sale:
                    quantity = values["quantity"]
                    values["quantity"] = pc.if_else(
                        applies, pc.binary_join_element_wise("-", pc.utf8_ltrim(quantity, "+-"), ""), quantity
                    )
                    values["unit_price"] = pc.if_else(applies, pc.utf8_ltrim(values["unit_price"], "+-"), values["unit_price"])
                    values["status"] = pc.if_else(applies, rule.status, values["status"])
                    decided = pc.or_(decided, applies)
                    continue
                rule_units = pc.utf8_ltrim(pc.fill_null(values["quantity"], "0"), "+-")
            units = pc.if_else(applies, rule_units, units)
            statuses = pc.if_else(applies, rule.status, statuses)
            if rule.dated is not None:
                dated = pc.if_else(applies, self._export(records, rule.dated), dated)
            decided = pc.or_(decided, applies)
        sold = pc.fill_null(pc.match_substring_regex(values["quantity"], r"^\+?[0-9]{1,9}$"), False)
        exceeds = pc.and_(sold, pc.greater(_as_int(units), _as_int(values["quantity"])))
        checks["returned units exceed the units sold"] = exceeds
        return_dates = _instants(dated, self.mapping)
        checks["return date is not a timestamp"] = pc.and_(pc.is_valid(dated), pc.is_null(return_dates))
        checks |= self._plausible_dates("return date", return_dates)
        values[_SALE_RETURNS] = pa.StructArray.from_arrays(
            [units, statuses, return_dates], names=["units", "status", "ordered_at"]
        )


_SALE_RETURNS = "sale_returns"  # in the mapped values: the return to add to each sold line, if any


def _as_int(texts: pa.Array) -> pa.Array:
    valid = pc.fill_null(pc.match_substring_regex(texts, INTEGER), False)
    return pc.cast(pc.if_else(valid, texts, "0"), pa.int64())


def _with_returns_of_sales(lines: pa.Table, returns: pa.StructArray) -> pa.Table:
    """The good lines plus, for each sold line with returned units, its return (same line number),
    at the sale's unit price, dated by the rule's column or else like the sale."""
    units = returns.field("units")
    sold = pc.match_substring_regex(lines["quantity"].combine_chunks(), r"^\+?[0-9]")
    returned = pc.and_(pc.invert(pc.match_substring_regex(units, ZERO)), sold)
    if not pc.any(returned).as_py():
        return lines
    added = lines.filter(returned)
    returns = returns.filter(returned)
    replaced = {
        "quantity": pc.binary_join_element_wise("-", returns.field("units"), ""),
        "status": returns.field("status"),
        "ordered_at": pc.coalesce(returns.field("ordered_at"), added["ordered_at"]),
    }
    for name, column in replaced.items():
        added = added.set_column(added.schema.get_field_index(name), name, column)
    return pa.concat_tables([lines, added])


def _decimal(texts: pa.Array, computable: pa.Array) -> pa.Array:
    return pc.cast(pc.if_else(pc.fill_null(computable, False), texts, "0"), AMOUNT)


def _amount_text(texts: pa.Array, decimal_separator: str) -> pa.Array:
    """Amounts as plain decimal text: currency symbols and codes, blanks and thousands separators
    removed, a comma decimal separator made a point, `(2.39)` read as -2.39. Grouping must be regular
    (`1,234.50`): `1,5` with a decimal point stays as it is, and so is not a number."""
    if (
        decimal_separator == "."
        and pc.all(pc.or_(pc.match_substring_regex(texts, DECIMAL), pc.is_null(texts))).as_py() is not False
    ):
        return texts  # the common case, already plain
    cleaned = pc.replace_substring_regex(texts, AMOUNT_BLANKS, "")
    cleaned = pc.replace_substring_regex(cleaned, r"^\((.*)\)$", r"-\1")
    cleaned = pc.replace_substring_regex(cleaned, CURRENCY_MARKS, "")
    cleaned = pc.replace_substring_regex(cleaned, r"^([+-]?)[^0-9+-]*([+-]?)", r"\1\2")
    grouped = pc.fill_null(pc.match_substring_regex(cleaned, GROUPED[decimal_separator]), False)
    cleaned = pc.if_else(grouped, pc.replace_substring_regex(cleaned, THOUSANDS[decimal_separator], ""), cleaned)
    if decimal_separator == ",":
        cleaned = pc.replace_substring(cleaned, ",", ".")
    return pc.if_else(pc.equal(cleaned, ""), NULL_TEXT, cleaned)


def _null_if_blank(texts: pa.Array) -> pa.Array:
    trimmed = pc.utf8_trim_whitespace(texts)
    return pc.if_else(pc.equal(trimmed, ""), NULL_TEXT, trimmed)


def _translated(texts: pa.Array, translation: dict[str, str | None]) -> pa.Array:
    """Values the mapping translates (`values:`), others as they are; a value mapped to null is empty."""
    position = pc.index_in(texts, value_set=pa.array(list(translation), pa.string()))
    replacements = pa.array(list(translation.values()), pa.string())
    return pc.if_else(pc.is_null(position), texts, pc.take(replacements, position))


def _instants(texts: pa.Array, mapping: SourceMapping) -> pa.Array:
    """ordered_at as UTC instants, by the first of the mapping's formats that reads each value; null
    where none does."""
    instants = [_instants_in(texts, timestamp_format, mapping.timezone) for timestamp_format in mapping.timestamp_formats]
    instants = pc.coalesce(*instants) if len(instants) > 1 else instants[0]
    return pc.if_else(pc.less(instants, FIRST_INSTANT), NULL_INSTANT, instants)


def _instants_in(texts: pa.Array, timestamp_format: str, time_zone: str) -> pa.Array:
    if timestamp_format == ISO:
        return _iso_instants(texts, time_zone)
    parsed = pc.strptime(texts, format=timestamp_format, unit="us", error_is_null=True)
    # With %z in the format the offset is in the text; without, it is the source's time zone.
    return parsed.cast(INSTANT) if parsed.type.tz else _local_to_utc(parsed, time_zone)


def _iso_instants(texts: pa.Array, time_zone: str) -> pa.Array:
    texts = pc.replace_substring_regex(pc.replace_substring_regex(texts, SPACED_OFFSET, r"\1\2"), SPACED_UTC, r"\1Z")
    # Words such as 'yesterday' fail the pattern.
    candidates = pc.if_else(pc.match_substring_regex(texts, ISO_TIMESTAMP), texts, NULL_TEXT)
    try:
        return _cast_iso(candidates, time_zone)
    except pa.ArrowInvalid:  # the pattern lets through a day past its month's end, such as 2025-02-30
        return _cast_iso(_without_impossible_days(candidates), time_zone)


def _cast_iso(candidates: pa.Array, time_zone: str) -> pa.Array:
    # An offset is a trailing Z, a + or a third -, after the date's two.
    with_offset = pc.or_(
        pc.or_(pc.ends_with(candidates, "Z"), pc.match_substring(candidates, "+")),
        pc.greater(pc.count_substring(candidates, "-"), 2),
    )
    offset_instants = pc.cast(pc.if_else(with_offset, candidates, NULL_TEXT), pa.timestamp("us", "UTC")).cast(INSTANT)
    local_times = pc.cast(pc.if_else(with_offset, NULL_TEXT, candidates), INSTANT)
    return pc.coalesce(offset_instants, _local_to_utc(local_times, time_zone))


def _without_impossible_days(candidates: pa.Array) -> pa.Array:
    """strptime rolls a day past its month's end over into the next month, which gives it away."""
    dates = pc.strptime(pc.utf8_slice_codeunits(candidates, 0, 10), format="%Y-%m-%d", unit="s", error_is_null=True)
    day_exists = pc.equal(pc.day(dates), pc.cast(pc.utf8_slice_codeunits(candidates, 8, 10), pa.int64()))
    return pc.if_else(day_exists, candidates, NULL_TEXT)


def _local_to_utc(local_times: pa.Array, time_zone: str) -> pa.Array:
    """Wall-clock times in `time_zone` as UTC, read as PostgreSQL reads them: an ambiguous time
    (clocks set back) is the later instant, in standard time; a time that clocks set forward skipped
    takes the offset in force before the jump."""
    zoned = pc.assume_timezone(local_times, time_zone, ambiguous="latest", nonexistent="earliest")
    # `zoned` has the offset wanted in every case: for a skipped time it is the last instant before the jump.
    offset = pc.subtract(pc.local_timestamp(zoned), zoned.cast(INSTANT))
    return pc.subtract(local_times, offset)


@dataclass(frozen=True)
class _RateCheck:
    failed: pa.Array  # no rate for the line's currency or the reporting currency on its day
    reasons: pa.Array  # "no ECB exchange rate for RUB on 2024-03-12" where failed
    after_last_rate: pa.Array  # converted lines dated after the last ECB publication


def _within(days: pa.Array, ranges: tuple[tuple[date, date | None], ...]) -> pa.Array:
    """Whether each day falls in one of the half-open ranges [start, end)."""
    inside = pa.repeat(pa.scalar(False), len(days))
    for start, end in ranges:
        in_range = pc.greater_equal(days, pa.scalar(start, pa.date32()))
        if end is not None:
            in_range = pc.and_(in_range, pc.less(days, pa.scalar(end, pa.date32())))
        inside = pc.or_(inside, in_range)
    return inside


RATE_CHECK = "no ECB exchange rate"


def _first_failures(
    values: dict[str, pa.Array],
    instants: pa.Array,
    date_checks: dict[str, pa.Array],
    mapping_checks: dict[str, pa.Array],
    rate_check: _RateCheck | None,
) -> pa.Array:
    """The reason each row is quarantined for, the first check it fails (CONTRACT.md); null if none."""
    quantity, unit_price, currency = values["quantity"], values["unit_price"], values["currency"]
    checks = {
        "missing order_id": pc.is_null(values["order_id"]),
        "missing ordered_at": pc.is_null(values["ordered_at"]),
        "missing product_id": pc.is_null(values["product_id"]),
        "missing quantity": pc.is_null(quantity),
        "quantity is not an integer": pc.invert(pc.match_substring_regex(quantity, INTEGER)),
        "quantity is zero": pc.match_substring_regex(quantity, ZERO),
        "missing unit_price": pc.is_null(unit_price),
        "unit_price is not a number": pc.invert(pc.match_substring_regex(unit_price, DECIMAL)),
        "unit_price is negative": pc.match_substring_regex(unit_price, NEGATIVE),
        **mapping_checks,
        "ordered_at is not a timestamp": pc.is_null(instants),
        **date_checks,
        "missing currency": pc.is_null(currency),
        "unknown currency code": pc.invert(pc.is_in(currency, value_set=ISO_CURRENCIES)),
        **({RATE_CHECK: rate_check.failed} if rate_check is not None else {}),
        # Optional: an empty country passes (the marts call it ZZ, unknown).
        "country is not an ISO 3166 code": pc.and_(
            pc.is_valid(values["country"]), pc.invert(pc.is_in(values["country"], value_set=ISO_COUNTRIES))
        ),
    }
    # A check on a missing value is null, which case_when takes as false: the "missing" check came first.
    failed = pa.StructArray.from_arrays(list(checks.values()), names=list(checks))
    # The rate check names the currency and day of each line.
    texts = {RATE_CHECK: rate_check.reasons} if rate_check is not None else {}
    return pc.case_when(failed, *(texts.get(reason, pa.scalar(reason)) for reason in checks))


def _as_json_objects(records: pa.RecordBatch) -> list[str]:
    """Each record as a JSON object keyed by the file's own column names."""
    names = records.schema.names
    rows = zip(*(column.to_pylist() for column in records.columns), strict=True)
    return [json.dumps(dict(zip(names, row, strict=True)), ensure_ascii=False) for row in rows]
