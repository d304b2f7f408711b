"""The landing sensor, evaluated with Dagster's build_sensor_context against a scratch warehouse: it
starts a run for new files, tries again after a run that did not load them, and never for files the
manifest already has, that are still being written, or that are refused."""

from __future__ import annotations

import json
from pathlib import Path

import dagster as dg
import pytest
from dagster._core.test_utils import create_run_for_test

import orchestration.sensors
from ingestion.loader import load_landing
from ingestion.sources import load_mappings
from orchestration.resources import resources_for
from orchestration.sensors import LANDING_FILES_TAG, landing_sensor_for
from orchestration.settings import load_settings

pytestmark = pytest.mark.integration

HEADER = "order_id,ordered_at,customer_id,product_id,product_name,category,quantity,unit_price,currency,country,status,channel"
LINE = "O1,2025-01-01T10:00:00+00:00,C1,P1,Mug,Home,1,9.90,EUR,DE,completed,web"


@dg.op
def _load():
    pass


@dg.job
def pipeline():
    _load()


@pytest.fixture
def landing(scratch_warehouse, tmp_path, monkeypatch) -> Path:
    folder = tmp_path / "landing"
    folder.mkdir()
    (tmp_path / "sources").mkdir()
    monkeypatch.setenv("ECOM_HOME", str(tmp_path))
    monkeypatch.setenv("WAREHOUSE_URL", scratch_warehouse)
    monkeypatch.setenv("ECOM_LANDING_DIR", str(folder))
    monkeypatch.setenv("ECOM_SOURCES_DIR", str(tmp_path / "sources"))
    monkeypatch.setenv("ECOM_LANDING_STABLE_SECONDS", "0")
    return folder


class Ticks:
    """The sensor evaluated tick after tick, its cursor carried over as Dagster carries it."""

    def __init__(self) -> None:
        self.instance = dg.DagsterInstance.ephemeral()
        self.sensor = landing_sensor_for(pipeline)
        self.cursor: str | None = None
        # The scratch warehouse and landing folder the `landing` fixture points the settings at.
        resources = resources_for(load_settings(), secrets_from_environment=False)
        self.resources = {name: resources[name] for name in ("warehouse", "landing")}

    def __call__(self):
        context = dg.build_sensor_context(instance=self.instance, cursor=self.cursor, resources=self.resources)
        result = self.sensor(context)
        self.cursor = context.cursor
        return result

    def ran(self, request: dg.RunRequest, status: dg.DagsterRunStatus) -> None:
        create_run_for_test(self.instance, job_name="pipeline", status=status, tags=request.tags)


def test_a_new_file_starts_a_run_and_a_failed_run_s_files_are_tried_again(landing, scratch_warehouse, monkeypatch):
    (landing / "orders_2025-01-01.csv").write_text(f"{HEADER}\n{LINE}\n")
    tick = Ticks()

    first = tick()
    assert isinstance(first, dg.RunRequest) and first.tags["new_files"] == "1"
    assert json.loads(tick.cursor)["handled"] == {}  # not loaded yet: looked at again
    tick.ran(first, dg.DagsterRunStatus.STARTED)
    assert "a pipeline run is already queued or running" in tick().skip_message

    # The run failed before it loaded the file: tried again, after a pause that grows with each run.
    tick.instance.delete_run(tick.instance.get_runs()[0].run_id)
    tick.ran(first, dg.DagsterRunStatus.FAILURE)
    waiting = tick()
    assert "1 file(s) still not loaded after 1 run(s)" in waiting.skip_message and "trying again at" in waiting.skip_message
    monkeypatch.setattr(orchestration.sensors, "RETRY_AFTER_SECONDS", 0)
    again = tick()
    assert isinstance(again, dg.RunRequest) and again.run_key != first.run_key
    assert again.tags[LANDING_FILES_TAG] == first.tags[LANDING_FILES_TAG]

    # This one loads it: from then on the manifest has it, and the cursor too.
    tick.ran(again, dg.DagsterRunStatus.SUCCESS)
    load_landing(scratch_warehouse, landing, load_mappings())
    assert "none to load: orders_2025-01-01.csv: already loaded as orders_2025-01-01.csv" in tick().skip_message
    assert list(json.loads(tick.cursor)["handled"]) == [str(landing / "orders_2025-01-01.csv")]
    assert tick().skip_message == "no new files"


def test_a_file_no_mapping_reads_is_reported_once_and_loads_once_a_mapping_reads_it(landing, scratch_warehouse, tmp_path):
    (landing / "till.csv").write_text("Bon,Zeit,Artikel,Menge,Summe\nB1,2025-02-01 10:00,P1,2,5.00\n")
    tick = Ticks()
    report = tick()
    assert isinstance(report, dg.RunRequest) and report.tags["new_files"] == "0"
    tick.ran(report, dg.DagsterRunStatus.SUCCESS)
    assert tick().skip_message == "no new files"

    (tmp_path / "sources" / "till.yaml").write_text(
        "name: till\nidentify: [Bon, Zeit, Artikel, Menge, Summe]\n"
        "columns: {order_id: Bon, ordered_at: Zeit, product_id: Artikel, quantity: Menge, unit_price: Summe}\n"
        "constants: {currency: EUR}\n"
    )
    load = tick()
    assert isinstance(load, dg.RunRequest) and load.tags["new_files"] == "1"


def test_no_run_for_files_still_being_written_or_refused(landing, monkeypatch, tmp_path):
    monkeypatch.setenv("ECOM_LANDING_STABLE_SECONDS", "600")
    (landing / "orders_2025-01-01.csv").write_text(f"{HEADER}\n{LINE}\n")
    (tmp_path / "elsewhere.csv").write_text(f"{HEADER}\n{LINE}\n")
    (landing / "linked.csv").symlink_to(tmp_path / "elsewhere.csv")
    skipped = Ticks()()
    assert skipped.skip_message.startswith("no new files (not taken: orders_2025-01-01.csv: still being written")
    assert "linked.csv: a symbolic link" in skipped.skip_message
