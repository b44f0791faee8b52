-- Each attribution model's credit to each verified touch of a credited conversion
-- (docs/rules.md#attribution-models): a share of the conversion and of its revenue.
-- The shares of one conversion under one model sum to exactly 1 conversion and exactly
-- its revenue: each touch gets its share rounded down (to the cent, to the millionth of
-- a conversion) and the units left go one each to the largest remainders, the later
-- touch first on a tie (macros/largest_remainder.sql).

{%- set half_life_days = var('time_decay_half_life_days') | float %}
{%- set day_us = 86400 * 1000000 %}
{%- set models = attribution_models() %}

with

verified as (

    select * from {{ ref('int_conversion_touches') }}
    where touch_status = 'verified'

),

ranked as (

    select
        *,
        row_number() over (
            partition by event_id order by touch_position
        ) as touch_rank,
        count(*) over (partition by event_id) as n_touches,
        -- time_decay: 2^(-age / half-life), age in days from the click to the conversion
        power(
            0.5,
            ({{ epoch_us('converted_at') }} - {{ epoch_us('clicked_at') }})
            / {{ day_us }} / {{ half_life_days }}
        ) as decay
    from verified

),

weighted as (

    {%- for model in models %}
        select
            event_id,
            event_type,
            revenue_amount,
            touch_position,
            touch_rank,
            touch_tracking_id,
            touch_campaign_link_id,
            '{{ model }}' as attribution_model,
            cast(
                {%- if model == 'last_click' %}
                    case when touch_rank = n_touches then 1.0 else 0.0 end
                {%- elif model == 'first_click' %}
                    case when touch_rank = 1 then 1.0 else 0.0 end
                {%- elif model == 'linear' %}
                    {#- Divided as doubles: Spark divides a decimal literal as a decimal,
                        rounded to 12 places, DuckDB as a double. #}
                    cast(1 as double) / n_touches
                {%- elif model == 'position_based' %}
                    case
                        when n_touches = 1 then 1.0
                        when n_touches = 2 then 0.5
                        when touch_rank = 1 or touch_rank = n_touches then 0.4
                        else cast(0.2 as double) / (n_touches - 2)
                    end
                {%- else %}
                    decay / sum(decay) over (partition by event_id)
                {%- endif %}
                as double
            ) as touch_share
        from ranked
        {% if not loop.last %}union all{% endif %}
    {%- endfor %}

),

in_cents as (

    -- Revenue in cents, 0 without revenue.
    select
        *,
        cast(round(coalesce(revenue_amount, 0) * 100) as bigint) as revenue_cents
    from weighted

),

-- Each share rounded down to the cent, the cents left to the largest remainders.
cents as (

    {{ largest_remainder(
        'in_cents', 'revenue_cents', 'touch_share', 'event_id, attribution_model',
        'touch_rank', 'credited_cents'
    ) }}

),

-- Likewise in millionths of a conversion.
millionths as (

    {{ largest_remainder(
        'cents', '1000000', 'touch_share', 'event_id, attribution_model',
        'touch_rank', 'credited_millionths'
    ) }}

),

final as (

    select
        event_id,
        attribution_model,
        touch_position,
        touch_tracking_id,
        touch_campaign_link_id,
        event_type,
        cast(credited_millionths / 1000000.0 as decimal(12, 6)) as credited_conversions,
        case
            when revenue_amount is not null
                then cast(credited_cents / 100.0 as decimal(10, 2))
        end as credited_revenue
    from millionths

)

select * from final
