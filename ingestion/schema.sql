-- Tables owned by the ingestion stage. Idempotent: applied before every load.

create table if not exists ops.ingested_files (
    file_id          bigint generated always as identity primary key,
    file_name        text        not null,
    content_sha256   text        not null,
    source           text        not null,
    status           text        not null check (status in ('loaded', 'rejected')),
    rows_loaded      bigint      not null default 0,
    rows_quarantined bigint      not null default 0,
    orders_replaced  bigint      not null default 0,
    error            text,
    started_at       timestamptz not null,
    finished_at      timestamptz not null default now(),
    unique (content_sha256, source)
);

create table if not exists raw.order_lines (
    order_id      text          not null,
    ordered_at    timestamptz   not null,
    customer_id   text,
    product_id    text          not null,
    product_name  text,
    category      text,
    quantity      integer       not null check (quantity <> 0),
    unit_price    numeric(12, 2) not null check (unit_price >= 0),
    currency      char(3)       not null,
    country       text,
    status        text,
    channel       text,
    source        text          not null,
    -- ops.ingested_files.file_id; no foreign key: its per-row trigger would dominate bulk loads.
    file_id       bigint        not null,
    source_line   bigint        not null,
    loaded_at     timestamptz   not null default now()
);
-- Lines are looked up by order: the loader replaces re-sent order parts, and dbt's incremental models
-- reread changed orders. Upkeep is ~1 us per loaded line; without it each file's replacement would
-- scan the whole table instead.
create index if not exists order_lines_order_id_idx on raw.order_lines (order_id);
-- Loads append in time order, so a BRIN index finds "lines loaded since" for next to no upkeep.
drop index if exists raw.order_lines_loaded_at_idx;
create index if not exists order_lines_loaded_at_brin on raw.order_lines using brin (loaded_at);

create table if not exists quarantine.order_lines (
    file_id        bigint      not null,
    file_name      text        not null,
    source_line    bigint      not null,
    reason         text        not null,
    raw_row        jsonb       not null,
    quarantined_at timestamptz not null default now()
);
