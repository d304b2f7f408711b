"""Source mappings: how one shop export's files map onto the order-line contract (CONTRACT.md).

A mapping is a YAML file: the shipped ones live in `ingestion/sources/`, a shop's own ones in any
folder the caller adds (ECOM_SOURCES_DIR). CONTRACT.md, "Source mappings", documents every key. A
mapping is checked strictly when it is read: a typo or an unknown key is a `MappingError` that names
the file and the key, and only that source is out of action (`MappingSet.errors`).

Which mapping reads a file is decided by the file's header (each mapping's `identify` columns), the
file-name globs (`files`) only breaking ties; see `MappingSet.choose`.
"""

from __future__ import annotations

import fnmatch
import hashlib
import os
import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import pydantic
import yaml
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

SOURCES_DIR = Path(__file__).parent / "sources"

CONTRACT_COLUMNS = (
    "order_id",
    "ordered_at",
    "customer_id",
    "product_id",
    "product_name",
    "category",
    "quantity",
    "unit_price",
    "currency",
    "country",
    "status",
    "channel",
)
REQUIRED_COLUMNS = ("order_id", "ordered_at", "product_id", "quantity", "unit_price")
ID_COLUMNS = ("order_id", "customer_id", "product_id")
RULE_TARGETS = ("status", "channel", "category")
FORMATS = ("csv", "jsonl", "parquet")
# The status a return line gets, and the vocabulary CONTRACT.md gives meaning to.
RETURNED = "returned"
# The statuses the contract gives a meaning to: a sale, a return line, a cancelled order's line.
STATUSES = ("completed", RETURNED, "cancelled")
_SUFFIX_FORMATS = {
    ".csv": "csv",
    ".tsv": "csv",
    ".txt": "csv",
    ".log": "csv",
    ".jsonl": "jsonl",
    ".ndjson": "jsonl",
    ".parquet": "parquet",
}
# `{column name}` in a template; `{@line}` is the record's line number in the file.
TEMPLATE_FIELD = re.compile(r"\{([^{}]+)\}")
LINE_NUMBER_FIELD = "@line"
WHITESPACE = "whitespace"
ISO = "iso"  # a timestamp_format: ISO 8601, with or without time and offset (CONTRACT.md)
DEFAULT_MAX_QUARANTINED_SHARE = 0.05


class MappingError(ValueError):
    """A source mapping file is invalid; the message names the file and the key."""


class _Strict(BaseModel):
    """Every key must be known: a typo is an error, never a silently ignored setting."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class CsvOptions(_Strict):
    delimiter: str = Field(",", description="one character, or `whitespace`: runs of spaces and tabs")
    quote: str = '"'
    encoding: str = "UTF8"
    decimal_separator: Literal[".", ","] = "."

    @field_validator("delimiter")
    @classmethod
    def _one_character(cls, value: str) -> str:
        if value != WHITESPACE and len(value) != 1:
            raise ValueError(f"is one character or {WHITESPACE!r}, not {value!r}")
        return value

    @property
    def python_encoding(self) -> str:
        """The Python codec of the declared (PostgreSQL) encoding name."""
        name = self.encoding.upper()
        if name.startswith("WIN"):  # WIN1252, WIN1250, WIN866, ...
            return "cp" + name.removeprefix("WIN")
        return {"UTF8": "utf-8", "LATIN1": "latin-1"}.get(name, self.encoding)

    @property
    def parsed_delimiter(self) -> str:
        """The delimiter the CSV parser sees: whitespace runs are turned into tabs before parsing."""
        return "\t" if self.delimiter == WHITESPACE else self.delimiter


class Condition(_Strict):
    """A test on one column: a contract column's mapped value, or else an export column's text."""

    column: str
    equals: str | list[str] | None = None
    starts_with: str | None = None
    not_empty: bool | None = None

    @model_validator(mode="after")
    def _exactly_one_test(self) -> Condition:
        given = [name for name in ("equals", "starts_with", "not_empty") if getattr(self, name) is not None]
        if len(given) != 1:
            raise ValueError(f"`when` takes a column and exactly one of equals / starts_with / not_empty, got {given or 'none'}")
        return self

    @property
    def equals_values(self) -> list[str]:
        return [self.equals] if isinstance(self.equals, str) else list(self.equals or [])


class Rule(_Strict):
    """Sets `status`, `channel` or `category` to a value on the rows where `when` holds."""

    when: Condition
    set: dict[Literal["status", "channel", "category"], str]

    @field_validator("set")
    @classmethod
    def _one_target(cls, value: dict) -> dict:
        if len(value) != 1:
            raise ValueError(f"sets exactly one of {RULE_TARGETS}")
        return value

    @property
    def target(self) -> str:
        return next(iter(self.set))

    @property
    def value(self) -> str:
        return next(iter(self.set.values()))


class Returns(_Strict):
    """One way an export marks returns (CONTRACT.md, "Returns"): `when` a condition holds (the line is
    returned), or `units` (an export column with the returned units, for partial returns)."""

    when: Condition | None = None
    units: str | None = None
    keep_sale: bool = Field(False, description="the line was sold, then returned: load its sale and a return")
    status: str = Field(RETURNED, description="the return line's status: returned, or cancelled for a cancellation")
    dated: str | None = Field(None, description="export column with the time of the return (default: the line's ordered_at)")

    @model_validator(mode="after")
    def _when_or_units(self) -> Returns:
        if (self.when is None) == (self.units is None):
            raise ValueError("a return rule takes exactly one of `when` and `units`")
        if self.units is not None and not self.keep_sale:
            raise ValueError("`units` counts returned units of a sold line: set `keep_sale: true`")
        if self.dated is not None and not self.keep_sale:
            raise ValueError("`dated` dates the return added to a sold line: set `keep_sale: true`")
        return self


class FillForward(_Strict):
    """Order-level columns a vendor writes on an order's first line only (Shopify)."""

    order: str = Field(description="the export column identifying the order; its lines follow each other")
    columns: list[str] = Field(min_length=1)


class Template(_Strict):
    template: str

    @field_validator("template")
    @classmethod
    def _has_fields(cls, value: str) -> str:
        if not TEMPLATE_FIELD.search(value):
            raise ValueError(f"a template names at least one {{column}} (or {{{LINE_NUMBER_FIELD}}}): {value!r}")
        return value

    @property
    def parts(self) -> list[tuple[str, bool]]:
        """(text, is_field) pieces in order."""
        pieces, position = [], 0
        for match in TEMPLATE_FIELD.finditer(self.template):
            if match.start() > position:
                pieces.append((self.template[position : match.start()], False))
            pieces.append((match.group(1), True))
            position = match.end()
        if position < len(self.template):
            pieces.append((self.template[position:], False))
        return pieces

    @property
    def columns(self) -> list[str]:
        return [text for text, is_field in self.parts if is_field and text != LINE_NUMBER_FIELD]


class ColumnSource(_Strict):
    column: str


class FirstOf(_Strict):
    """The first non-empty one of several export columns (a SKU, else the product's name)."""

    first_of: list[str] = Field(min_length=2)


class LineTotal(_Strict):
    """The export gives what the line cost in all (quantity x price, less discounts), not a unit price."""

    line_total: str


class DiscountedPrice(_Strict):
    """A unit price and an amount taken off the whole line: line total = price x quantity - discount."""

    column: str
    discount: str


ColumnSpec = str | Template | ColumnSource | FirstOf | LineTotal | DiscountedPrice


class _MappingFile(_Strict):
    """The YAML file as written."""

    name: Annotated[str, Field(pattern=r"^[a-z0-9_]+$")]
    description: str = ""
    identify: list[str] = Field(min_length=1)
    files: list[str] = []
    format: Literal["csv", "jsonl", "parquet"] | None = None
    timezone: str = "UTC"
    timestamp_format: str | list[str] | None = None
    default_currency: str | None = None
    max_quarantined_share: float = Field(DEFAULT_MAX_QUARANTINED_SHARE, ge=0, le=1)
    inexact_unit_price: Literal["quarantine", "round"] = "quarantine"
    csv: CsvOptions = CsvOptions()
    columns: dict[str, ColumnSpec] = {}
    constants: dict[str, str | int | float] = {}
    normalise_ids: list[Literal["order_id", "customer_id", "product_id"]] = []
    values: dict[str, dict[str, str | None]] = {}
    rules: list[Rule] = []
    returns: list[Returns] = []
    fill_forward: FillForward | None = None

    @field_validator("returns", mode="before")
    @classmethod
    def _one_or_more(cls, value):
        return [value] if isinstance(value, dict) else value

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as error:
            raise ValueError(f"unknown time zone {value!r}") from error
        return value

    @field_validator("timestamp_format")
    @classmethod
    def _strptime_patterns(cls, value: str | list[str] | None) -> str | list[str] | None:
        for pattern in [value] if isinstance(value, str) else value or []:
            if pattern != ISO and "%" not in pattern:
                raise ValueError(f"is a strptime pattern such as '%m/%d/%Y %H:%M' or {ISO!r}, not {pattern!r}")
        return value

    @model_validator(mode="after")
    def _contract_columns(self) -> _MappingFile:
        for key in ("columns", "constants", "values"):
            unknown = sorted(set(getattr(self, key)) - set(CONTRACT_COLUMNS))
            if unknown:
                raise ValueError(f"`{key}` names contract columns; unknown: {unknown}")
        both = sorted(set(self.columns) & set(self.constants))
        if both:
            raise ValueError(f"{both} given both under `columns` and `constants`")
        for column, spec in self.columns.items():
            if isinstance(spec, (LineTotal, DiscountedPrice)) and column != "unit_price":
                raise ValueError(f"columns.{column}: a line total or a discount gives only `unit_price`")
        return self


@dataclass(frozen=True)
class SourceMapping:
    """One source's mapping, as the loader uses it."""

    name: str
    path: Path
    version: str  # the mapping file's content hash: the manifest records which version read a file
    spec: _MappingFile
    extends: str | None = None  # the mapping this one starts from

    # Shortcuts to the settings the loader and readers read most.
    @property
    def csv(self) -> CsvOptions:
        return self.spec.csv

    @property
    def timezone(self) -> str:
        return self.spec.timezone

    @property
    def timestamp_formats(self) -> list[str]:
        """The ways ordered_at may be written, tried in order (ISO 8601 unless the mapping says)."""
        formats = self.spec.timestamp_format or ISO
        return [formats] if isinstance(formats, str) else formats

    @property
    def constants(self) -> dict[str, str]:
        return {column: str(value) for column, value in self.spec.constants.items()}

    def source_of(self, contract_column: str) -> ColumnSpec | None:
        """Where a contract column comes from: None if the export lacks it and it is not a constant.
        Unmapped columns are read from an export column of the contract's own name."""
        if contract_column in self.spec.constants:
            return None
        return self.spec.columns.get(contract_column, contract_column)

    def export_columns(self) -> list[str]:
        """Every export column the mapping reads, in a stable order."""
        names: list[str] = []
        for column in CONTRACT_COLUMNS:
            names += _columns_of(self.source_of(column))
        names += [condition.column for condition in self._conditions() if condition.column not in CONTRACT_COLUMNS]
        names += [name for rule in self.spec.returns for name in (rule.units, rule.dated) if name]
        if self.spec.fill_forward:
            names += [self.spec.fill_forward.order, *self.spec.fill_forward.columns]
        return list(dict.fromkeys(names))

    def required_export_columns(self) -> list[str]:
        """Export columns a file must have: those the required contract columns and the rules read."""
        names: list[str] = []
        for column in REQUIRED_COLUMNS:
            names += _columns_of(self.source_of(column))
        names += [condition.column for condition in self._conditions() if condition.column not in CONTRACT_COLUMNS]
        names += [rule.units for rule in self.spec.returns if rule.units]
        if self.spec.fill_forward:
            names.append(self.spec.fill_forward.order)
        return list(dict.fromkeys(names))

    def _conditions(self) -> list[Condition]:
        return [rule.when for rule in self.spec.rules] + [rule.when for rule in self.spec.returns if rule.when]

    def identifies(self, header: Iterable[str]) -> list[str]:
        """The `identify` columns missing from a header: none means this mapping can read the file."""
        present = {name.strip() for name in header}
        return [name for name in self.spec.identify if name not in present]

    def matches_name(self, path: Path) -> bool:
        # In any case: `ORDERS_EXPORT_1.CSV` is Shopify's file as a Windows tool may name it.
        return any(fnmatch.fnmatch(path.name.lower(), pattern.lower()) for pattern in self.spec.files)

    def format_of(self, path: Path) -> str:
        if self.spec.format:
            return self.spec.format
        file_format = format_from_name(path)
        if file_format is None:
            raise MappingError(
                f"{display_name(path)}: cannot tell the format from the name; set `format:` in mapping {self.name}"
            )
        return file_format


def display_name(path: Path) -> str:
    """A file's name as text that can be stored and shown (`readable`)."""
    return readable(path.name)


def readable(file_system_text: str) -> str:
    """A name or path as text that can be stored and shown: bytes that are not UTF-8 (a name written
    by another system; Python holds them as lone surrogates, which no database or terminal takes) and
    control characters (a line break) become U+FFFD."""
    return os.fsencode(file_system_text).decode("utf-8", errors="replace").translate(_UNPRINTABLE)


_UNPRINTABLE = dict.fromkeys([*range(0x20), *range(0x7F, 0xA0)], "\ufffd")


def format_from_name(path: Path) -> str | None:
    suffixes = [suffix for suffix in path.suffixes if suffix.lower() != ".gz"]
    return _SUFFIX_FORMATS.get(suffixes[-1].lower() if suffixes else "")


def _columns_of(spec: ColumnSpec | None) -> list[str]:
    match spec:
        case None:
            return []
        case str():
            return [spec]
        case Template():
            return spec.columns
        case ColumnSource():
            return [spec.column]
        case FirstOf():
            return spec.first_of
        case LineTotal():
            return [spec.line_total]
        case DiscountedPrice():
            return [spec.column, spec.discount]
    raise TypeError(spec)


def _error_text(source: str, error: pydantic.ValidationError) -> str:
    problems = []
    for problem in error.errors():
        # Union members add their class names to the location: keep the keys a user wrote.
        location = ".".join(str(part) for part in problem["loc"] if not str(part)[:1].isupper() and "[" not in str(part))
        message = problem["msg"].removeprefix("Value error, ")
        if problem["type"] == "extra_forbidden":
            message = "unknown key"
        problems.append(f"`{location}`: {message}" if location else message)
    return f"{source}: " + "; ".join(dict.fromkeys(problems))


def _read_spec(path: Path) -> dict:
    try:
        spec = yaml.safe_load(path.read_bytes())
    except yaml.YAMLError as error:
        raise MappingError(f"{path.name}: not valid YAML: {error}") from error
    if not isinstance(spec, dict):
        raise MappingError(f"{path.name}: a mapping is a YAML object with `name`, `identify`, `columns`, ...")
    return spec


def _merged(base: dict, override: dict) -> dict:
    """`override` on top of `base`: objects merge key by key, anything else is replaced."""
    merged = dict(base)
    for key, value in override.items():
        merged[key] = _merged(base[key], value) if isinstance(value, dict) and isinstance(base.get(key), dict) else value
    return merged


def load_mapping(path: Path, bases: dict[str, SourceMapping] | None = None) -> SourceMapping:
    """Read and check one mapping file; a MappingError names the file and the offending key. A
    mapping may `extends:` another one (by name, from `bases`) and give only what differs."""
    spec = _read_spec(path)
    version_parts = [path.read_bytes()]
    if "extends" in spec:
        base = (bases or {}).get(str(spec["extends"]))
        if base is None:
            raise MappingError(f"{path.name}: `extends`: no mapping named {spec['extends']!r}")
        # Only what the base file says, not its own name and files: those identify the base.
        inherited = {
            key: value for key, value in _read_spec(base.path).items() if key not in ("name", "extends", "files", "description")
        }
        spec = _merged(inherited, {key: value for key, value in spec.items() if key != "extends"})
        version_parts.append(base.version.encode())
    try:
        checked = _MappingFile.model_validate(spec)
    except pydantic.ValidationError as error:
        raise MappingError(_error_text(path.name, error)) from None
    base_name = str(_read_spec(path)["extends"]) if len(version_parts) > 1 else None
    return SourceMapping(checked.name, path, hashlib.sha256(b"\0".join(version_parts)).hexdigest()[:12], checked, base_name)


@dataclass(frozen=True)
class Choice:
    """Which mapping reads a file, and why (or why none can)."""

    mapping: SourceMapping | None
    reason: str


@dataclass(frozen=True)
class MappingSet:
    mappings: list[SourceMapping]
    errors: list[str]  # mapping files that could not be read: only their sources are out of action

    def by_name(self, name: str) -> SourceMapping | None:
        return next((mapping for mapping in self.mappings if mapping.name == name), None)

    @property
    def fingerprint(self) -> str:
        """Changes whenever a mapping is added, removed, changed or out of action: then a file no
        mapping read, or one a mapping rejected, may load now."""
        versions = sorted(f"{mapping.name}@{mapping.version}" for mapping in self.mappings)
        return hashlib.sha256("\0".join([*versions, *sorted(self.errors)]).encode()).hexdigest()[:16]

    def choose(self, path: Path, header_of) -> Choice:
        """The mapping whose `identify` columns the file's header has; among several, one that extends
        another wins over it, then the one whose `files` globs match the name, then the most specific
        (most identify columns). `header_of(path,
        mapping)` reads the header as that mapping would (its delimiter, encoding, format) or None."""
        headers = {mapping.name: header_of(path, mapping) for mapping in self.mappings}
        readable = [mapping for mapping in self.mappings if headers[mapping.name] is not None]
        candidates = [mapping for mapping in readable if not mapping.identifies(headers[mapping.name])]
        if len(candidates) > 1:
            # A shop's mapping that extends a shipped one (to set its time zone, say) wins over its base.
            bases = {mapping.extends for mapping in candidates}
            candidates = [mapping for mapping in candidates if mapping.name not in bases]
        if len(candidates) > 1:
            by_name = [mapping for mapping in candidates if mapping.matches_name(path)]
            candidates = by_name or candidates
        if len(candidates) > 1:
            most = max(len(mapping.spec.identify) for mapping in candidates)
            candidates = [mapping for mapping in candidates if len(mapping.spec.identify) == most]
        if len(candidates) == 1:
            (mapping,) = candidates
            why = f"its header has {mapping.name}'s identifying columns ({', '.join(mapping.spec.identify)})"
            return Choice(mapping, why + (f" and its name matches {mapping.spec.files}" if mapping.matches_name(path) else ""))
        if candidates:
            names = ", ".join(mapping.name for mapping in candidates)
            return Choice(None, f"ambiguous: mappings {names} can all read it; narrow their `identify` or `files`")
        by_name = [mapping for mapping in self.mappings if mapping.matches_name(path)]
        if len(by_name) == 1:
            # Named like this source's files but not shaped like them (empty, unreadable, a column
            # missing): loading it with that mapping rejects it with the precise reason.
            return Choice(
                by_name[0], f"its name matches {by_name[0].name}'s files {by_name[0].spec.files}, though its header does not"
            )
        return Choice(None, self._no_mapping_reason(path, headers, readable))

    def _no_mapping_reason(self, path: Path, headers: dict, readable: list[SourceMapping]) -> str:
        if not readable:
            reason = "no source mapping can read its header"
        else:

            def found(mapping: SourceMapping) -> int:
                return len(mapping.spec.identify) - len(mapping.identifies(headers[mapping.name]))

            closest = max(readable, key=lambda mapping: (found(mapping), -len(mapping.spec.identify), mapping.matches_name(path)))
            # Shown as the closest mapping splits it; if none knows a column, as split into the most columns.
            header = headers[closest.name] if found(closest) else max((headers[mapping.name] for mapping in readable), key=len)
            shown = ", ".join(header[:20]) + (f", ... ({len(header)} columns)" if len(header) > 20 else "")
            reason = f"no source mapping matches its header [{shown}]"
            if found(closest):
                reason += f"; the closest, {closest.name}, misses: {', '.join(closest.identifies(header))}"
            else:
                reason += "; no mapping knows any of its columns: write one (ecom preview shows what it reads)"
        if self.errors:
            reason += f" (mappings out of action: {'; '.join(self.errors)})"
        return reason


def load_mappings(extra_dirs: Iterable[Path] = ()) -> MappingSet:
    """The shipped mappings and those in `extra_dirs` (a shop's own, e.g. ECOM_SOURCES_DIR); a mapping
    of the same name in a later folder replaces the earlier one."""
    paths: dict[str, Path] = {}
    for directory in (SOURCES_DIR, *extra_dirs):
        for path in sorted(Path(directory).glob("*.y*ml")):
            paths[path.name] = path
    mappings: dict[str, SourceMapping] = {}
    errors = []
    # Mappings that extend another are read once their base is: at most as many rounds as mappings.
    pending = sorted(paths.values(), key=lambda path: path.name)
    while pending:
        waiting = []
        for path in pending:
            try:
                base = _read_spec(path).get("extends")
                if (
                    base is not None
                    and base not in mappings
                    and any(_declared_name(other) == base for other in pending if other != path)
                ):
                    waiting.append(path)
                    continue
                mapping = load_mapping(path, mappings)
            except (MappingError, OSError) as error:
                errors.append(str(error))
                continue
            mappings[mapping.name] = mapping
        if len(waiting) == len(pending):  # a cycle of `extends`
            errors += [f"{path.name}: `extends` goes round in a circle" for path in waiting]
            break
        pending = waiting
    return MappingSet(list(mappings.values()), errors)


def _declared_name(path: Path) -> str | None:
    try:
        return _read_spec(path).get("name")
    except MappingError:
        return None
