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
    -- The content hash of the source mapping that read the file: a file it rejected is tried again
    -- once the mapping changes.
    mapping_version  text        not null default ''
);
-- One row per attempt: a rejected file may load later with a corrected mapping, and a loaded one
-- again on request (`ecom ingest --reload`). Manifests from before kept one row per content.
alter table ops.ingested_files add column if not exists mapping_version text not null default '';
alter table ops.ingested_files drop constraint if exists ingested_files_content_sha256_source_key;
create index if not exists ingested_files_content_idx on ops.ingested_files (content_sha256, source);

-- A table created before raw.order_lines was partitioned is moved aside, and its rows into a partition
-- of their own (below).
do $$
begin
    if exists (select from pg_class where oid = to_regclass('raw.order_lines') and relkind = 'r') then
        alter table raw.order_lines rename to order_lines_unpartitioned;
        drop index if exists raw.order_lines_order_id_idx, raw.order_lines_loaded_at_brin, raw.order_lines_loaded_at_idx;
    end if;
end $$;

-- One partition per loaded file (the loader attaches it; ranges are single file ids). A load writes
-- into a table its own transaction created, so PostgreSQL copies without keeping indexes up row by row
-- and builds them once, sorted, when the partition is attached. dbt's "lines of files after the
-- high-water mark" reads only the new partitions.
create table if not exists raw.order_lines (
    -- An identifier: byte order ("C") sorts and indexes it about twice as fast as a language's rules.
    order_id      text collate "C" not null,
    ordered_at    timestamptz   not null,
    customer_id   text,
    product_id    text          not null,
    product_name  text,
    category      text,
    -- Named, so that every partition's copy has the same name whatever else the schema holds.
    quantity      integer       not null constraint order_lines_quantity_check check (quantity <> 0),
    unit_price    numeric(12, 2) not null constraint order_lines_unit_price_check check (unit_price >= 0),
    currency      char(3)       not null,
    country       text,
    status        text,
    channel       text,
    source        text          not null,
    -- ops.ingested_files.file_id; no foreign key: its per-row trigger would dominate bulk loads.
    file_id       bigint        not null,
    source_line   bigint        not null,
    loaded_at     timestamptz   not null default now()
) partition by range (file_id);
-- Lines are looked up by order: the loader replaces re-sent order parts, and dbt's incremental models
-- reread changed orders.
create index if not exists order_lines_order_id_idx on raw.order_lines (order_id);

do $$
declare
    next_file_id bigint;
begin
    if to_regclass('raw.order_lines_unpartitioned') is not null then
        select greatest((select max(file_id) from ops.ingested_files), (select max(file_id) from raw.order_lines_unpartitioned), 0) + 1
        into next_file_id;
        create table raw.order_lines_before_partitioning (like raw.order_lines including defaults including constraints);
        insert into raw.order_lines_before_partitioning select * from raw.order_lines_unpartitioned;
        execute format(
            'alter table raw.order_lines attach partition raw.order_lines_before_partitioning for values from (minvalue) to (%s)',
            next_file_id
        );
        -- With dbt's staging views, which still read the old table: dbt's next build creates them anew.
        drop table raw.order_lines_unpartitioned cascade;
    end if;
end $$;

-- The order directory: which file holds the current lines of each order part (its sale lines,
-- quantity > 0, or its return/cancellation lines; CONTRACT.md, "Corrections"). A load looks up only
-- the order parts it may replace and deletes them from the partitions named, instead of probing
-- every earlier partition's order_id index, so its cost stays flat however many files came before.
-- The loader keeps both tables in step with raw.order_lines in the load's own transaction.
--
-- Most of a file's orders are new ones with order ids above all earlier ones (shops number their
-- orders), so a file that brings order ids no earlier file had around them records them as one
-- block, not one row each: its parts with an id in [first_order_id, last_order_id] are in the file,
-- unless raw.order_parts says otherwise. Blocks never overlap.
--
-- An older warehouse gets the directory on its first load after the upgrade: every part it holds
-- becomes a row of raw.order_parts (this script runs as one transaction).
do $$
begin
    if to_regclass('raw.order_parts') is null then
        create table raw.order_id_blocks (
            file_id        bigint primary key,  -- ops.ingested_files.file_id
            first_order_id text collate "C" not null,
            last_order_id  text collate "C" not null unique,
            check (first_order_id <= last_order_id)
        );
        -- A row for each order part that a file brought below order ids loaded before it (late and
        -- re-sent orders, returns and cancellations of earlier orders), ahead of any block: it may lie
        -- in another file's block. And for each part loaded before the directory existed.
        create table raw.order_parts (
            order_id text collate "C" not null,
            is_sale  boolean not null,
            file_id  bigint  not null  -- ops.ingested_files.file_id: the partition holding the part's lines
        );
        -- A part's lines are all in one file (each load deleted the earlier lines of the parts it
        -- carried), so max() is that file.
        insert into raw.order_parts (order_id, is_sale, file_id)
        select order_id, quantity > 0, max(file_id) from raw.order_lines group by 1, 2;
        -- Built once, sorted, after the rows: faster than keeping it up row by row.
        alter table raw.order_parts add primary key (order_id, is_sale);
    end if;
end $$;

create table if not exists quarantine.order_lines (
    file_id        bigint      not null,
    file_name      text        not null,
    source_line    bigint      not null,
    reason         text        not null,
    raw_row        jsonb       not null,
    quarantined_at timestamptz not null default now()
);

-- The European Central Bank's euro reference rates (ingestion/exchange_rates.py): units of a currency
-- per euro on each publication day, EUR itself at 1. dbt converts order lines with them.
create table if not exists raw.exchange_rates (
    rate_date     date    not null,
    currency_code char(3) not null,
    units_per_eur numeric not null check (units_per_eur > 0),
    primary key (rate_date, currency_code)
);
