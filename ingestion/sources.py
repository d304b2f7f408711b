"""Source mappings: how one shop export's files map onto the order-line contract (CONTRACT.md).

A mapping is a YAML file in `ingestion/sources/`; see CONTRACT.md, "Source mappings", for every key.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import yaml

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
_SUFFIX_FORMATS = {".csv": "csv", ".tsv": "csv", ".txt": "csv", ".jsonl": "jsonl", ".ndjson": "jsonl", ".parquet": "parquet"}


class MappingError(ValueError):
    """A source mapping file is invalid; the message names the file and the key."""


@dataclass(frozen=True)
class CsvOptions:
    delimiter: str = ","
    quote: str = '"'
    encoding: str = "UTF8"
    decimal_separator: str = "."

    @property
    def python_encoding(self) -> str:
        """The Python codec of the declared (PostgreSQL) encoding name."""
        name = self.encoding.upper()
        if name.startswith("WIN"):  # WIN1252, WIN1250, WIN866, ...
            return "cp" + name.removeprefix("WIN")
        return {"UTF8": "utf-8", "LATIN1": "latin-1"}.get(name, self.encoding)


@dataclass(frozen=True)
class Rule:
    """Sets `target` to `value` on rows whose `column` starts with / equals a value."""

    column: str
    target: str
    value: str
    starts_with: str | None = None
    equals: str | None = None


@dataclass(frozen=True)
class SourceMapping:
    name: str
    file_patterns: tuple[str, ...]
    file_format: str | None = None  # None: from the file name's suffix
    timezone: str = "UTC"
    default_currency: str | None = None
    # strptime pattern, e.g. "%m/%d/%Y %H:%M"; None: ISO 8601 (with or without an offset).
    timestamp_format: str | None = None
    csv: CsvOptions = field(default_factory=CsvOptions)
    renames: dict[str, str] = field(default_factory=dict)  # contract column -> export column
    constants: dict[str, str] = field(default_factory=dict)  # contract column -> fixed value
    normalise_ids: tuple[str, ...] = ()  # strip a float suffix: "17850.0" -> "17850"
    country_names: dict[str, str] = field(default_factory=dict)  # export value -> ISO 3166 alpha-2
    rules: tuple[Rule, ...] = ()

    def export_column(self, contract_column: str) -> str:
        return self.renames.get(contract_column, contract_column)

    def required_export_columns(self) -> list[str]:
        """The export's names of the required columns a file must have (constants need none)."""
        return [self.export_column(column) for column in REQUIRED_COLUMNS if column not in self.constants]

    def matches(self, path: Path) -> bool:
        return any(path.match(pattern) for pattern in self.file_patterns)

    def format_of(self, path: Path) -> str:
        if self.file_format:
            return self.file_format
        suffixes = [s for s in path.suffixes if s != ".gz"]
        file_format = _SUFFIX_FORMATS.get(suffixes[-1].lower() if suffixes else "")
        if file_format is None:
            raise MappingError(f"{path.name}: cannot tell the format from the name; set `format:` in mapping {self.name}")
        return file_format


def _rule(source: str, spec: dict) -> Rule:
    when, assignment = spec.get("when", {}), spec.get("set", {})
    if len(assignment) != 1 or next(iter(assignment)) not in RULE_TARGETS:
        raise MappingError(f"{source}: a rule sets exactly one of {RULE_TARGETS}")
    if when.get("column") not in CONTRACT_COLUMNS or ("starts_with" in when) == ("equals" in when):
        raise MappingError(f"{source}: a rule's `when` needs a contract `column` and one of starts_with / equals")
    (target, value), = assignment.items()
    return Rule(when["column"], target, str(value), when.get("starts_with"), when.get("equals"))


def load_mapping(path: Path) -> SourceMapping:
    spec = yaml.safe_load(path.read_text())
    source = path.name
    for key in ("columns", "constants"):
        unknown = set(spec.get(key, {})) - set(CONTRACT_COLUMNS)
        if unknown:
            raise MappingError(f"{source}: unknown contract columns under `{key}`: {sorted(unknown)}")
    unknown_ids = set(spec.get("normalise_ids", [])) - set(ID_COLUMNS)
    if unknown_ids:
        raise MappingError(f"{source}: normalise_ids takes {ID_COLUMNS}, not {sorted(unknown_ids)}")
    if spec.get("format") not in (None, *FORMATS):
        raise MappingError(f"{source}: format must be one of {FORMATS}")
    timezone = spec.get("timezone", "UTC")
    try:
        ZoneInfo(timezone)
    except (ZoneInfoNotFoundError, ValueError) as error:
        raise MappingError(f"{source}: unknown time zone {timezone!r}") from error
    timestamp_format = spec.get("timestamp_format")
    if timestamp_format is not None and "%" not in timestamp_format:
        raise MappingError(f"{source}: timestamp_format is a strptime pattern such as '%m/%d/%Y %H:%M', not {timestamp_format!r}")
    return SourceMapping(
        name=spec["name"],
        file_patterns=tuple(spec["files"]),
        file_format=spec.get("format"),
        timezone=timezone,
        default_currency=spec.get("default_currency"),
        timestamp_format=timestamp_format,
        csv=CsvOptions(**spec.get("csv", {})),
        renames=dict(spec.get("columns", {})),
        constants={column: str(value) for column, value in spec.get("constants", {}).items()},
        normalise_ids=tuple(spec.get("normalise_ids", [])),
        country_names=dict(spec.get("country_names", {})),
        rules=tuple(_rule(source, rule) for rule in spec.get("rules", [])),
    )


def load_mappings(directory: Path = SOURCES_DIR) -> list[SourceMapping]:
    return [load_mapping(path) for path in sorted(directory.glob("*.yaml"))]


def mapping_for(path: Path, mappings: list[SourceMapping]) -> SourceMapping | None:
    return next((mapping for mapping in mappings if mapping.matches(path)), None)
