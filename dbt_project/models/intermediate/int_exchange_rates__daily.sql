{#-
    The exchange rate of every calendar day and currency: the ECB publishes on TARGET business days
    only, and a day takes the latest publication on or before it (a weekend or holiday the previous
    business day's; days after the last publication its rates, until a newer ECB file is loaded). A
    currency not quoted on that publication has no row that day (RUB after 2022-03-01): its lines get
    no amount, which the not_null test of fct_order_lines.line_amount reports (the loader quarantines
    them before that). reporting_units_per_eur is the reporting currency's rate of the same day.
-#}
{{
    config(
        materialized='table',
        indexes=[{'columns': ['rate_date', 'currency_code'], 'unique': true}],
    )
}}

with rates as (
    select * from {{ ref('stg_ecb__exchange_rates') }}
),

publications as (
    select distinct rate_date from rates
),

calendar as (
    select calendar_day::date as rate_date
    from
        generate_series(
            (select min(rate_date) from publications),
            -- Through tomorrow in the reporting time zone: the loader accepts lines up to a day ahead.
            greatest(
                (select max(rate_date) from publications),
                (now() at time zone '{{ var("reporting_timezone") }}')::date + 1
            ),
            interval '1 day'
        ) as calendar_day
),

published_on as (
    select
        calendar.rate_date,
        -- The running max skips the days without a publication: the latest one on or before the day.
        max(publications.rate_date) over (order by calendar.rate_date) as published_on
    from calendar
    left join publications on calendar.rate_date = publications.rate_date
)

select
    published_on.rate_date,
    rates.currency_code,
    rates.units_per_eur,
    reporting.units_per_eur as reporting_units_per_eur,
    published_on.published_on
from published_on
inner join rates on published_on.published_on = rates.rate_date
left join rates as reporting
    on
        published_on.published_on = reporting.rate_date
        and reporting.currency_code = '{{ var("reporting_currency") }}'
