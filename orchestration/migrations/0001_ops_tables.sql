-- The pipeline's own tables in schema `ops`, beside the ingestion stage's manifest (ops.ingested_files,
-- ingestion/schema.sql). `if not exists`: a warehouse set up before migrations has them already.

-- Every expectation result of every run (expectations/results.py), for trends and audits.
create table if not exists ops.quality_results (
    evaluated_at     timestamptz not null default now(),
    run_id           text,
    suite            text        not null,
    table_name       text        not null,
    expectation      text        not null,
    column_name      text,
    success          boolean     not null,
    unexpected_count bigint,
    sample_values    jsonb,
    observed_value   jsonb,
    description      text
);
-- A table created before expectations had descriptions.
alter table ops.quality_results add column if not exists description text;

-- Every failed run (orchestration/alerts.py).
create table if not exists ops.alerts (
    alert_id     bigint generated always as identity primary key,
    raised_at    timestamptz not null default now(),
    run_id       text        not null,
    job_name     text        not null,
    message      text        not null,
    failed_steps jsonb       not null,
    run_url      text,
    delivered    boolean     not null default false
);

-- The state of the candidate schemas dbt builds (orchestration/publication.py, write-audit-publish).
create table if not exists ops.publication (
    singleton        boolean primary key default true check (singleton),
    candidate_state  text not null check (candidate_state in ('building', 'built', 'partial', 'published')),
    changed_at       timestamptz not null default now(),
    run_id           text,
    published_at     timestamptz
);
