"""Source mappings: how one shop export's files map onto the order-line contract (see CONTRACT.md)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

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


@dataclass(frozen=True)
class CsvOptions:
    delimiter: str = ","
    quote: str = '"'
    encoding: str = "UTF8"
    decimal_separator: str = "."


@dataclass(frozen=True)
class SourceMapping:
    name: str
    file_patterns: tuple[str, ...]
    timezone: str = "UTC"
    default_currency: str | None = None
    csv: CsvOptions = field(default_factory=CsvOptions)
    # contract column -> column name in the export
    renames: dict[str, str] = field(default_factory=dict)

    def export_column(self, contract_column: str) -> str:
        return self.renames.get(contract_column, contract_column)

    def matches(self, path: Path) -> bool:
        return any(path.match(pattern) for pattern in self.file_patterns)


def load_mapping(path: Path) -> SourceMapping:
    spec = yaml.safe_load(path.read_text())
    unknown = set(spec.get("columns", {})) - set(CONTRACT_COLUMNS)
    if unknown:
        raise ValueError(f"{path.name}: unknown contract columns {sorted(unknown)}")
    return SourceMapping(
        name=spec["name"],
        file_patterns=tuple(spec["files"]),
        timezone=spec.get("timezone", "UTC"),
        default_currency=spec.get("default_currency"),
        csv=CsvOptions(**spec.get("csv", {})),
        renames=dict(spec.get("columns", {})),
    )


def load_mappings(directory: Path = SOURCES_DIR) -> list[SourceMapping]:
    return [load_mapping(path) for path in sorted(directory.glob("*.yaml"))]


def mapping_for(path: Path, mappings: list[SourceMapping]) -> SourceMapping | None:
    return next((mapping for mapping in mappings if mapping.matches(path)), None)
