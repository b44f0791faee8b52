{#- Rows of agg_daily_link_metrics' grain (reporting day x link x event type), before
    summing: clicks count on their click day, attributed conversions on their conversion
    day, both calendar days in var('reporting_timezone'). `clicks` and `conversions` name
    relations (or CTEs) shaped like fct_clicks and fct_conversions. The one home of the
    rule, shared by the model and by pruning, which keeps what pruned rows contributed. -#}
{% macro daily_link_metrics(clicks, conversions) -%}
    select
        {{ to_reporting_date('clicked_at') }} as metric_date,
        campaign_link_id,
        'click' as event_type,
        count(case when not is_bot then 1 end) as clicks,
        count(case when is_bot then 1 end) as bot_clicks,
        0 as conversions,
        cast(0 as decimal(18, 2)) as revenue
    from {{ clicks }}
    group by 1, 2
    union all
    select
        {{ to_reporting_date('converted_at') }} as metric_date,
        campaign_link_id,
        event_type,
        0 as clicks,
        0 as bot_clicks,
        count(*) as conversions,
        cast(sum(coalesce(revenue_amount, 0)) as decimal(18, 2)) as revenue
    from {{ conversions }}
    group by 1, 2, 3
{%- endmacro %}
