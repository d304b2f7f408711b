{#- The lifetime value distribution behind the Customers dashboard: customers and their lifetime net
    revenue per monetary score, RFM segment and country. A few hundred rows where customer_segments has
    one per customer, so the chart and its country and segment filters never aggregate every customer. -#}
select
    m_score,
    segment,
    country_code,
    country_name,
    count(*) as customers,
    sum(monetary) as lifetime_net_revenue
from {{ ref('customer_segments') }}
group by m_score, segment, country_code, country_name
