{#- The RFM segment of a customer from the recency, frequency and monetary scores (1-5 each, 5 best).
    First matching rule wins; the rules together cover all 125 score combinations. Documented in
    models/docs.md, block rfm_segments. -#}
{% macro rfm_segment(r, f, m) -%}
    case
        when {{ r }} >= 4 and {{ f }} >= 4 and {{ m }} >= 4 then 'Champions'
        when {{ r }} >= 3 and {{ f }} >= 4 then 'Loyal'
        when {{ r }} = 1 and {{ f }} >= 4 then 'Can''t Lose Them'
        when {{ r }} <= 2 and {{ f }} >= 3 then 'At Risk'
        when {{ r }} >= 4 and {{ f }} >= 2 then 'Potential Loyalists'
        when {{ r }} = 5 then 'New'
        when {{ r }} = 4 then 'Promising'
        when {{ r }} = 3 then 'Need Attention'
        when {{ r }} = 2 then 'Hibernating'
        else 'Lost'
    end
{%- endmacro %}

{#- Every segment name in display order, for segment_summary and the accepted_values tests. -#}
{% macro rfm_segment_names() -%}
    {{ return(['Champions', 'Loyal', 'Potential Loyalists', 'New', 'Promising', 'Need Attention',
               'At Risk', "Can't Lose Them", 'Hibernating', 'Lost']) }}
{%- endmacro %}
