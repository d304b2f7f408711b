"""A failed run is recorded in ops.alerts (orchestration/migrations) and, when ALERT_WEBHOOK_URL is set, posted to that webhook."""

import json
import urllib.request

import dagster as dg
import psycopg
from psycopg.types.json import Jsonb

from orchestration.resources import AlertsResource, WarehouseResource


def _post(url: str, payload: dict) -> bool:
    request = urllib.request.Request(url, data=json.dumps(payload).encode(), headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return 200 <= response.status < 300
    except OSError:
        return False


@dg.run_failure_sensor(
    name="run_failure_alert",
    default_status=dg.DefaultSensorStatus.RUNNING,
    monitor_all_code_locations=False,
    description="Records every failed run in ops.alerts and posts it to ALERT_WEBHOOK_URL when set.",
)
def run_failure_alert(context: dg.RunFailureSensorContext, warehouse: WarehouseResource, alerts: AlertsResource) -> None:
    run = context.dagster_run
    failed_steps = [
        {"step": event.step_key, "error": event.event_specific_data.error.message.strip()[:2000]}
        for event in context.get_step_failure_events()
    ]
    payload = {
        "text": f"ecommerce-analytics: run of {run.job_name} failed",
        "run_id": run.run_id,
        "job": run.job_name,
        "message": context.failure_event.message or "run failed",
        "failed_steps": failed_steps,
        "run_url": f"{alerts.dagster_url}/runs/{run.run_id}",
    }
    webhook = alerts.webhook_url.strip()
    delivered = bool(webhook) and _post(webhook, payload)
    with psycopg.connect(warehouse.url()) as conn:
        conn.execute(
            "insert into ops.alerts (run_id, job_name, message, failed_steps, run_url, delivered) values (%s, %s, %s, %s, %s, %s)",
            (run.run_id, run.job_name, payload["message"], Jsonb(failed_steps), payload["run_url"], delivered),
        )
    context.log.info(f"alert recorded for run {run.run_id}" + (", webhook notified" if delivered else ""))
