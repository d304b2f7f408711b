{#- RFM segmentation of every customer with at least one order. Scores are quintiles (ntile) over all
    customers, so the table is rebuilt whole. Recency is measured from the last order date in the data,
    not from today, so the same data always gives the same segments. Rules: docs block rfm_segments. -#}
{#- The Customers dashboard lists the top customers by monetary value: with this index it reads 25
    rows instead of sorting every customer. -#}
{{ config(indexes=[{'columns': ['monetary desc']}]) }}
with customers as (
    select * from {{ ref('dim_customers') }}
    where orders > 0
),

reference as (
    -- The last day with an order of anyone, guests included.
    select max(period_start) as reference_date
    from {{ ref('int_sales__period_totals') }}
    where period_grain = 'day' and orders > 0
),

rfm as (
    select
        customers.customer_id,
        customers.country_code,
        customers.first_order_date,
        customers.last_order_date,
        reference.reference_date,
        reference.reference_date - customers.last_order_date as recency_days,
        customers.orders as frequency,
        customers.lifetime_net_revenue as monetary
    from customers
    cross join reference
),

scored as (
    -- 5 is best on every score. ntile keeps the quintiles equal in size, so ties (most customers
    -- have one or two orders) are split: by the other measures first, so that within a tie the more
    -- valuable customer scores higher, then by customer_id, so that the result is reproducible.
    select
        rfm.*,
        ntile(5) over (order by rfm.recency_days desc, rfm.frequency, rfm.monetary, rfm.customer_id) as r_score,
        ntile(5) over (order by rfm.frequency, rfm.monetary, rfm.recency_days desc, rfm.customer_id) as f_score,
        ntile(5) over (order by rfm.monetary, rfm.frequency, rfm.recency_days desc, rfm.customer_id) as m_score
    from rfm
)

select
    scored.customer_id,
    scored.country_code,
    coalesce(countries.country_name, scored.country_code) as country_name,
    scored.first_order_date,
    scored.last_order_date,
    scored.reference_date,
    scored.recency_days,
    scored.frequency,
    scored.monetary,
    scored.r_score,
    scored.f_score,
    scored.m_score,
    scored.r_score::text || scored.f_score::text || scored.m_score::text as rfm_cell,
    {{ rfm_segment('scored.r_score', 'scored.f_score', 'scored.m_score') }} as segment
from scored
left join {{ ref('countries') }} as countries on scored.country_code = countries.country_code
