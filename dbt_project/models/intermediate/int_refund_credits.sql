-- Each credited refund split by its purchase's revenue credits under every attribution
-- model (docs/rules.md#refunds): in proportion to each touch's credited revenue
-- (int_purchase_credits), to the cent with the largest-remainder rule of the credits
-- themselves (macros/largest_remainder.sql). What the order's refunds credited through
-- each refund is split, and each refund gets the difference from the one before: so the
-- refunds of an order add up per touch to the split of their sum, and an order refunded
-- in full takes back exactly each touch's credit.

with

refunds as (

    select * from {{ ref('int_refunds_judged') }}
    where credited_amount > 0

),

credits as (

    select * from {{ ref('int_purchase_credits') }}

),

shares as (

    select
        refunds.event_id,
        refunds.purchase_event_id,
        refunds.refunded_at,
        refunds.received_at,
        credits.attribution_model,
        credits.touch_position,
        credits.touch_campaign_link_id,
        cast(round(refunds.credited_through * 100) as bigint) as through_cents,
        cast(credits.credited_revenue as double)
        / cast(refunds.order_revenue as double) as touch_share
    from refunds
    inner join credits
        on refunds.purchase_event_id = credits.purchase_event_id

),

apportioned as (

    {{ largest_remainder(
        'shares', 'through_cents', 'touch_share', 'event_id, attribution_model',
        'touch_position', 'touch_through_cents'
    ) }}

),

final as (

    select
        event_id,
        purchase_event_id,
        attribution_model,
        touch_position,
        touch_campaign_link_id,
        cast(
            (
                touch_through_cents
                - coalesce(
                    lag(touch_through_cents) over (
                        partition by purchase_event_id, attribution_model, touch_position
                        order by refunded_at asc, received_at asc, event_id asc
                    ),
                    0
                )
            ) / 100.0 as decimal(10, 2)
        ) as refunded_revenue
    from apportioned

)

select * from final
