"""Sensors: new files in the landing folder start the pipeline by themselves."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import dagster as dg

from ingestion.loader import files_to_load, scan_landing
from ingestion.sources import load_mappings
from orchestration.settings import load_settings

LANDING_POLL_SECONDS = 15
SKIP_REASONS_SHOWN = 5
IN_FLIGHT = [
    dg.DagsterRunStatus.QUEUED,
    dg.DagsterRunStatus.NOT_STARTED,
    dg.DagsterRunStatus.STARTING,
    dg.DagsterRunStatus.STARTED,
]


def landing_sensor_for(job) -> dg.SensorDefinition:
    @dg.sensor(
        name="landing_folder_sensor",
        job=job,
        minimum_interval_seconds=LANDING_POLL_SECONDS,
        default_status=dg.DefaultSensorStatus.RUNNING,
        description="Runs the pipeline when new files land in the landing folder (ECOM_LANDING_DIR).",
    )
    def landing_folder_sensor(context: dg.SensorEvaluationContext):
        settings = load_settings()
        if not settings.landing_dir.exists():
            return dg.SkipReason(f"{settings.landing_dir} does not exist")
        # The cursor keeps (size, mtime) per file: a quiet tick costs a directory listing, not reading files.
        seen: dict[str, list[int]] = json.loads(context.cursor) if context.cursor else {}
        current = {str(path): [path.stat().st_size, path.stat().st_mtime_ns] for path in scan_landing(settings.landing_dir, settings.landing_stable_seconds).files}
        changed = sorted(path for path, state in current.items() if seen.get(path) != state)
        if not changed:
            return dg.SkipReason("no new files")
        if context.instance.get_runs_count(dg.RunsFilter(job_name=job.name, statuses=IN_FLIGHT)):
            # Looked at again after that run: it may load these files itself.
            return dg.SkipReason(f"{len(changed)} changed file(s); a pipeline run is already queued or running")
        context.update_cursor(json.dumps(current))
        new, skipped = files_to_load(settings.warehouse.url(), [Path(path) for path in changed], load_mappings([settings.sources_dir]))
        if not new:
            reasons = "; ".join(f"{path.name}: {why}" for path, why in list(skipped.items())[:SKIP_REASONS_SHOWN])
            more = f"; and {len(skipped) - SKIP_REASONS_SHOWN} more" if len(skipped) > SKIP_REASONS_SHOWN else ""
            return dg.SkipReason(f"{len(changed)} changed file(s), none to load: {reasons}{more}")
        run_key = hashlib.sha256(json.dumps({str(path): current[str(path)] for path in new}).encode()).hexdigest()[:16]
        context.log.info(f"{len(new)} new file(s): {', '.join(path.name for path in new[:10])}")
        return dg.RunRequest(run_key=run_key, tags={"trigger": "landing_folder", "new_files": str(len(new))})

    return landing_folder_sensor
