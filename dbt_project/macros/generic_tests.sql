{#- Generic tests this project needs; written here because dbt packages (dbt_utils) are not installed. -#}

{#- No two rows share the same values in all of the given columns. -#}
{% test unique_combination_of_columns(model, combination_of_columns) %}
    {%- set columns = combination_of_columns | join(', ') %}
    select {{ columns }}, count(*) as occurrences
    from {{ model }}
    group by {{ columns }}
    having count(*) > 1
{% endtest %}


{#- Every non-null value lies in [min_value, max_value]; either bound may be omitted. -#}
{% test accepted_range(model, column_name, min_value=none, max_value=none) %}
    select {{ column_name }}
    from {{ model }}
    where {{ column_name }} is not null
        and (
            false
            {%- if min_value is not none %} or {{ column_name }} < {{ min_value }}{% endif %}
            {%- if max_value is not none %} or {{ column_name }} > {{ max_value }}{% endif %}
        )
{% endtest %}


{#- The model has at least one row. -#}
{% test has_rows(model) %}
    select 1 as no_rows
    where not exists (select 1 from {{ model }})
{% endtest %}


{#- column_name >= other_column on every row where both are set (a later date, a larger count). -#}
{% test at_least_column(model, column_name, other_column) %}
    select {{ column_name }}, {{ other_column }}
    from {{ model }}
    where {{ column_name }} < {{ other_column }}
{% endtest %}


{#- Every day from the first to the last value of the date column has a row. -#}
{% test no_missing_day(model, column_name) %}
    select missing.day::date as missing_day
    from (select min({{ column_name }}) as first_day, max({{ column_name }}) as last_day from {{ model }}) as bounds
    cross join generate_series(bounds.first_day, bounds.last_day, interval '1 day') as missing (day)
    where not exists (select 1 from {{ model }} as present where present.{{ column_name }} = missing.day::date)
{% endtest %}


{#- Each of the values occurs in the column (with accepted_values: the column holds exactly these). -#}
{% test every_value_present(model, column_name, values) %}
    {%- for value in values %}
    select '{{ value }}' as absent_value
    where not exists (select 1 from {{ model }} where {{ column_name }} = '{{ value }}')
    {%- if not loop.last %} union all{% endif %}
    {%- endfor %}
{% endtest %}
