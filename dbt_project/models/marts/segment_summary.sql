{#- Customers and revenue per RFM segment; every segment appears, empty ones with zeros. -#}
{%- set segment_names = rfm_segment_names() -%}
with segments as (
    select segment, segment_order
    from (
        values
        {%- for name in segment_names %}
        ('{{ name | replace("'", "''") }}', {{ loop.index }}){{ "," if not loop.last }}
        {%- endfor %}
    ) as segments (segment, segment_order)
),

customers as (
    select * from {{ ref('customer_segments') }}
),

per_segment as (
    select
        segment,
        count(*) as customers,
        sum(monetary) as net_revenue,
        avg(recency_days) as avg_recency_days,
        avg(frequency) as avg_frequency,
        avg(monetary) as avg_monetary
    from customers
    group by segment
),

totals as (
    select count(*) as customers, sum(monetary) as net_revenue from customers
)

select
    segments.segment,
    segments.segment_order,
    coalesce(per_segment.customers, 0) as customers,
    case
        when totals.customers > 0
            then round(coalesce(per_segment.customers, 0)::numeric / totals.customers, 4)
    end as customer_share,
    coalesce(per_segment.net_revenue, 0) as net_revenue,
    case
        when totals.net_revenue <> 0
            then round(coalesce(per_segment.net_revenue, 0) / totals.net_revenue, 4)
    end as revenue_share,
    round(per_segment.avg_recency_days, 1) as avg_recency_days,
    round(per_segment.avg_frequency, 2) as avg_frequency,
    round(per_segment.avg_monetary, 2) as avg_monetary
from segments
cross join totals
left join per_segment on segments.segment = per_segment.segment
