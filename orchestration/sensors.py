"""Sensors: new files in the landing folder start the pipeline by themselves."""

from __future__ import annotations

import hashlib
import json
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import dagster as dg

from ingestion.loader import Landing, file_state, pending_files, scan_landing
from ingestion.sources import display_name, load_mappings
from orchestration.resources import LandingResource, WarehouseResource

LANDING_POLL_SECONDS = 15
SKIP_REASONS_SHOWN = 5
IN_FLIGHT = [
    dg.DagsterRunStatus.QUEUED,
    dg.DagsterRunStatus.NOT_STARTED,
    dg.DagsterRunStatus.STARTING,
    dg.DagsterRunStatus.STARTED,
]
# Tags each run the sensor starts with the files it was started for (a digest of their states).
LANDING_FILES_TAG = "ecom/landing_files"
# After a run that left its files unloaded (it failed, say), the next run for the same files waits
# this long, twice as long after each further one, up to an hour: retried, but not every tick.
RETRY_AFTER_SECONDS = 60
LONGEST_RETRY_AFTER_SECONDS = 3600


@dataclass(frozen=True)
class LandingCursor:
    """The files the sensor need not look at again while they stay as they are: the manifest has them
    (loaded, or rejected by their mapping's current version), or no mapping reads them. Kept with the
    mappings' fingerprint: when a mapping changes, every file is looked at again. A file a run has
    not loaded yet is never in it, so a failed run's files are tried again."""

    mappings: str = ""
    handled: dict[str, list[int]] = field(default_factory=dict)  # path -> file_state when handled

    @classmethod
    def parse(cls, text: str | None, mappings: str) -> LandingCursor:
        saved = json.loads(text) if text else {}
        # A cursor of another mapping set, or of an earlier version of this sensor: look at everything.
        if saved.get("mappings") != mappings:
            return cls(mappings)
        return cls(mappings, saved["handled"])

    def unhandled(self, states: dict[str, list[int]]) -> list[str]:
        return sorted(path for path, state in states.items() if self.handled.get(path) != state)

    def advanced(self, states: dict[str, list[int]], handled: list[str]) -> LandingCursor:
        """Also `handled` (at their current states); files gone from the folder are forgotten."""
        kept = {path: state for path, state in self.handled.items() if path in states}
        return LandingCursor(self.mappings, kept | {path: states[path] for path in handled})

    def dumps(self) -> str:
        return json.dumps({"mappings": self.mappings, "handled": self.handled})


def landing_sensor_for(job) -> dg.SensorDefinition:
    @dg.sensor(
        name="landing_folder_sensor",
        job=job,
        minimum_interval_seconds=LANDING_POLL_SECONDS,
        default_status=dg.DefaultSensorStatus.RUNNING,
        description="Runs the pipeline when new files land in the landing folder (ECOM_LANDING_DIR).",
    )
    def landing_folder_sensor(context: dg.SensorEvaluationContext, warehouse: WarehouseResource, landing: LandingResource):
        stable_seconds = landing.stable_seconds
        if not landing.landing_path.exists():
            return dg.SkipReason(f"{landing.landing_path} does not exist")
        folder = scan_landing(landing.landing_path, stable_seconds)
        mappings = load_mappings([landing.sources_path])
        cursor = LandingCursor.parse(context.cursor, mappings.fingerprint)
        # A quiet tick costs a directory listing, not reading files.
        states = {str(path): list(file_state(path)) for path in folder.files}
        changed = cursor.unhandled(states)
        aside = _not_taken(folder, stable_seconds)
        if not changed:
            return dg.SkipReason(f"no new files{aside}")
        if context.instance.get_runs_count(dg.RunsFilter(job_name=job.name, statuses=IN_FLIGHT)):
            # Looked at again after that run: it may load these files itself.
            return dg.SkipReason(f"{len(changed)} changed file(s); a pipeline run is already queued or running{aside}")
        pending = pending_files(warehouse.url(), [Path(path) for path in changed], mappings)
        context.update_cursor(cursor.advanced(states, [str(path) for path in [*pending.skipped, *pending.to_report]]).dumps())
        if not pending.to_load and not pending.to_report:
            return dg.SkipReason(f"{len(changed)} changed file(s), none to load: {_listed(pending.skipped)}{aside}")
        # A run for the files to load, until the manifest has them; else one that reports the files no
        # mapping reads (they count as handled from now on: no run can do more with them).
        files = [str(path) for path in pending.to_load] or [str(path) for path in pending.to_report]
        # The same files, as the same mappings read them: another run for them is a retry.
        wanted = {"mappings": mappings.fingerprint, "files": {path: states[path] for path in files}}
        key = hashlib.sha256(json.dumps(wanted).encode()).hexdigest()[:16]
        earlier = context.instance.get_run_records(dg.RunsFilter(job_name=job.name, tags={LANDING_FILES_TAG: key}))
        if earlier:
            retry_at = _end(earlier[0]) + min(RETRY_AFTER_SECONDS * 2 ** (len(earlier) - 1), LONGEST_RETRY_AFTER_SECONDS)
            if time.time() < retry_at:
                at = datetime.fromtimestamp(retry_at, UTC).strftime("%H:%M:%S UTC")
                return dg.SkipReason(
                    f"{len(files)} file(s) still not loaded after {len(earlier)} run(s), the last {earlier[0].dagster_run.run_id}"
                    f" ({earlier[0].dagster_run.status.value}); trying again at {at}{aside}"
                )
        names = ", ".join(display_name(Path(path)) for path in files[:10])
        context.log.info(f"{len(pending.to_load)} new file(s), {len(pending.to_report)} no mapping reads: {names}{aside}")
        return dg.RunRequest(
            # A retry is a new run (Dagster starts one run per key).
            run_key=f"{key}-{len(earlier)}",
            tags={"trigger": "landing_folder", "new_files": str(len(pending.to_load)), LANDING_FILES_TAG: key},
        )

    return landing_folder_sensor


def _end(record) -> float:
    return record.end_time or record.update_timestamp.timestamp()


def _listed(reasons: dict[Path, str]) -> str:
    shown = "; ".join(f"{display_name(path)}: {why}" for path, why in list(reasons.items())[:SKIP_REASONS_SHOWN])
    return shown + (f"; and {len(reasons) - SKIP_REASONS_SHOWN} more" if len(reasons) > SKIP_REASONS_SHOWN else "")


def _not_taken(landing: Landing, stable_seconds: float) -> str:
    """The entries no run is started for, with why: still being written, or refused."""
    results = landing.results(stable_seconds)
    if not results:
        return ""
    shown = "; ".join(f"{result.file_name}: {result.error}" for result in results[:SKIP_REASONS_SHOWN])
    more = f"; and {len(results) - SKIP_REASONS_SHOWN} more" if len(results) > SKIP_REASONS_SHOWN else ""
    return f" (not taken: {shown}{more})"
