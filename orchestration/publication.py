"""Write-audit-publish: the marts the dashboards read change only after every blocking gate passed.

dbt builds every layer into candidate schemas (`staging_candidate`, `intermediate_candidate`,
`marts_candidate`; dbt_project.yml, var schema_suffix); the dbt tests and the Great Expectations gates
check the candidate; then the asset `publication/marts` swaps each candidate schema with its published
twin (`marts`, ...) in one transaction. Superset's queries see either the old marts or the new ones,
never a half-built or failed build. After a swap the candidate schemas hold the previous published
build: the next run brings them up to date incrementally (each incremental model reads what changed
since its own high-water mark, however far behind it is).

The candidate's state, in ops.publication (orchestration/migrations), decides how dbt builds it:
- `published`: it is the previous published build, complete and checked: build incrementally;
- `building` (a build started and did not finish: a crash), `built` (not published: a gate failed or
  the run stopped) or `partial` (only some models were built): it may hold a defect, or be stale in
  parts, so the next build is a full refresh. This is how a failed gate recovers by itself.
Only a `built` candidate, every model built by one successful build, is published.
"""

from collections.abc import Mapping

import dagster as dg
import psycopg
from psycopg import sql

from orchestration.resources import WarehouseResource

PUBLISHED_MARTS = dg.AssetKey(["publication", "marts"])


def _state(conn: psycopg.Connection) -> str | None:
    row = conn.execute("select candidate_state from ops.publication").fetchone()
    return row[0] if row else None


def _set_state(conn: psycopg.Connection, state: str, run_id: str, published: bool = False) -> None:
    conn.execute(
        "insert into ops.publication (candidate_state, run_id, published_at) values (%(state)s, %(run)s, case when %(published)s then now() end)"
        " on conflict (singleton) do update set candidate_state = excluded.candidate_state, run_id = excluded.run_id,"
        " changed_at = now(), published_at = coalesce(excluded.published_at, ops.publication.published_at)",
        {"state": state, "run": run_id, "published": published},
    )


def start_candidate_build(conninfo: str, run_id: str) -> bool:
    """Mark the candidate as being built; True if it must be rebuilt in full (see the module doc)."""
    with psycopg.connect(conninfo, autocommit=True) as conn:
        state = _state(conn)
        _set_state(conn, "building", run_id)
    return state != "published"


def finish_candidate_build(conninfo: str, run_id: str, complete: bool) -> None:
    with psycopg.connect(conninfo, autocommit=True) as conn:
        _set_state(conn, "built" if complete else "partial", run_id)


def swap_in(conninfo: str, candidates: Mapping[str, str], reader: str, run_id: str) -> str:
    """Swap each candidate schema with its published twin, and move the BI role's access to the new
    published marts, in one transaction. Returns the candidate's state before (for the metadata)."""
    with psycopg.connect(conninfo) as conn, conn.transaction():
        state = _state(conn)
        if state != "built":
            raise dg.Failure(
                f"the candidate schemas are `{state}`, not `built`: publishing needs every dbt model built by one"
                " successful build since the last publication (materialize the dbt assets with it)"
            )
        for published, candidate in candidates.items():
            retiring = sql.Identifier(f"{published}__retiring")
            conn.execute(sql.SQL("create schema if not exists {}").format(sql.Identifier(published)))
            conn.execute(sql.SQL("alter schema {} rename to {}").format(sql.Identifier(published), retiring))
            conn.execute(sql.SQL("alter schema {} rename to {}").format(sql.Identifier(candidate), sql.Identifier(published)))
            conn.execute(sql.SQL("alter schema {} rename to {}").format(retiring, sql.Identifier(candidate)))
        if conn.execute("select 1 from pg_roles where rolname = %s", (reader,)).fetchone():
            # The BI role reads the published marts only (dbt grants it SELECT on every mart table).
            conn.execute(sql.SQL("grant usage on schema marts to {}").format(sql.Identifier(reader)))
            conn.execute(
                sql.SQL("revoke usage on schema {} from {}").format(sql.Identifier(candidates["marts"]), sql.Identifier(reader))
            )
        _set_state(conn, "published", run_id, published=True)
    return state


def publication_asset(mart_keys: list[dg.AssetKey], candidates: Mapping[str, str]) -> dg.AssetsDefinition:
    @dg.asset(
        key=PUBLISHED_MARTS,
        deps=mart_keys,
        group_name="publication",
        owners=["team:data-platform"],
        kinds={"postgres"},
        description="Swaps the checked candidate schemas (marts_candidate, ...) with the published ones Superset reads,"
        " in one transaction, once every blocking gate on the marts passed.",
    )
    def published_marts(context: dg.AssetExecutionContext, warehouse: WarehouseResource) -> dg.MaterializeResult:
        swap_in(warehouse.url(), candidates, warehouse.bi_reader_user, context.run.run_id)
        with psycopg.connect(warehouse.url()) as conn:
            tables = conn.execute("select count(*) from information_schema.tables where table_schema = 'marts'").fetchone()[0]
        return dg.MaterializeResult(
            metadata={"schemas_swapped": dg.MetadataValue.json(dict(candidates)), "published_mart_tables": tables}
        )

    return published_marts
