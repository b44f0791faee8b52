-- Every credited conversion, under every attribution model, is credited exactly once and
-- exactly its revenue; under last_click, all of it to its own click, the one the
-- attribution rule credits (docs/rules.md#attribution-models). A row is a conversion and
-- model where that fails.

with

credited as (

    select * from {{ ref('int_conversions_matched_to_clicks') }}
    where attribution_status = 'attributed'

),

credits as (

    select * from {{ ref('int_attribution_credits') }}

),

models as (

    select distinct attribution_model from credits

),

sums as (

    select
        event_id,
        attribution_model,
        sum(credited_conversions) as conversions,
        sum(credited_revenue) as revenue,
        sum(
            case
                when attribution_model = 'last_click' and credited_conversions = 1
                    then 1
                else 0
            end
        ) as whole_last_clicks
    from credits
    group by event_id, attribution_model

),

own_click_credits as (

    select credits.event_id
    from credits
    inner join credited
        on
            credits.event_id = credited.event_id
            and credits.touch_tracking_id = credited.tracking_id
            and credits.touch_campaign_link_id = credited.campaign_link_id
    where
        credits.attribution_model = 'last_click'
        and credits.credited_conversions = 1
        and coalesce(credits.credited_revenue, -1) = coalesce(credited.revenue_amount, -1)

),

final as (

    select
        credited.event_id,
        models.attribution_model
    from credited
    cross join models
    left join sums
        on
            credited.event_id = sums.event_id
            and models.attribution_model = sums.attribution_model
    left join own_click_credits
        on credited.event_id = own_click_credits.event_id
    where
        sums.event_id is null
        or sums.conversions != 1
        or coalesce(sums.revenue, -1) != coalesce(credited.revenue_amount, -1)
        or (models.attribution_model = 'last_click' and own_click_credits.event_id is null)

)

select * from final
