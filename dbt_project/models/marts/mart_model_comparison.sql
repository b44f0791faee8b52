-- Each attribution model's credited revenue and conversions per YouTube video, side by
-- side, over the whole life of the video's links (docs/rules.md#attribution-models): one
-- pair of columns per model (macro attribution_models), and the spread of the revenue
-- between the models, absolute and relative to last_click. From mart_attribution_models,
-- so a prune changes no number here either. Every video a link names has a row, zeros
-- when nothing was credited; links without a video share the row whose video is null.

{%- set models = attribution_models() %}

with

links as (

    select * from {{ ref('dim_campaign_links') }}

),

models as (

    select * from {{ ref('mart_attribution_models') }}

),

per_video as (

    select
        links.youtube_video_id,
    {%- for model in models %}
        sum(
            case when models.attribution_model = '{{ model }}' then models.credited_revenue end
        ) as {{ model }}_revenue,
        sum(
            case
                when models.attribution_model = '{{ model }}'
                    then models.credited_conversions
            end
        ) as {{ model }}_conversions{{ "," if not loop.last }}
    {%- endfor %}
    from links
    left join models
        on links.campaign_link_id = models.campaign_link_id
    group by links.youtube_video_id

),

summed as (

    select
        youtube_video_id,
    {%- for model in models %}
        cast(coalesce({{ model }}_revenue, 0) as decimal(18, 2)) as {{ model }}_revenue,
        cast(coalesce({{ model }}_conversions, 0) as decimal(18, 6))
            as {{ model }}_conversions{{ "," if not loop.last }}
    {%- endfor %}
    from per_video

),

{%- set revenues = [] %}
{%- for model in models %}{% do revenues.append(model ~ '_revenue') %}{% endfor %}

spread as (

    select
        *,
        cast(
            greatest({{ revenues | join(', ') }}) - least({{ revenues | join(', ') }})
            as decimal(18, 2)
        ) as revenue_spread
    from summed

),

final as (

    select
        *,
        -- The spread per unit of last_click's revenue; null when last_click credited none.
        cast(revenue_spread as double)
        / nullif(cast(last_click_revenue as double), 0) as revenue_spread_vs_last_click
    from spread

)

select * from final
