-- Every refund event and how much of it is credited against its order's purchase
-- (docs/rules.md#refunds): an order without a credited purchase, or a refund earlier than
-- the purchase beyond the clock-skew allowance, credits nothing; otherwise the refunds
-- of one order add up in (refunded_at, received_at, event_id) order and each is credited
-- up to what is left of the order's revenue, the rest exceeds it.
-- Rebuilt from every refund each run: refunds are few and kept forever, and a purchase
-- that arrives (or is attributed) late credits the earlier refunds of its order on the
-- next run.

{%- set skew_us = (var('clock_skew_minutes') | int) * 60 * 1000000 %}

with

refunds as (

    select * from {{ ref('stg_collector__refunds') }}

),

orders as (

    select * from {{ ref('int_credited_orders') }}

),

joined as (

    select
        refunds.*,
        orders.purchase_event_id,
        orders.campaign_link_id,
        orders.converted_at,
        orders.revenue_amount as order_revenue,
        case
            when orders.order_id is null then 'order_not_credited'
            when
                {{ epoch_us('refunds.refunded_at') }} - {{ epoch_us('orders.converted_at') }}
                < -{{ skew_us }}
                then 'before_purchase'
        end as refused
    from refunds
    left join orders
        on refunds.order_id = orders.order_id

),

running as (

    -- What the order's earlier refunds asked back, this one excluded.
    select
        *,
        coalesce(
            sum(amount) over (
                partition by order_id
                order by refunded_at asc, received_at asc, event_id asc
                rows between unbounded preceding and 1 preceding
            ),
            0
        ) as asked_before
    from joined
    where refused is null

),

capped as (

    -- Credited through this refund, and before it: never beyond the order's revenue.
    select
        *,
        case
            when asked_before + amount < order_revenue then asked_before + amount
            else order_revenue
        end as credited_through,
        case
            when asked_before < order_revenue then asked_before
            else order_revenue
        end as credited_before
    from running

),

judged as (

    select
        event_id,
        order_id,
        amount,
        currency,
        merchant_reason,
        refunded_at,
        received_at,
        source,
        purchase_event_id,
        campaign_link_id,
        converted_at,
        order_revenue,
        credited_through - credited_before as credited_amount,
        credited_through,
        case when asked_before + amount > order_revenue then 'exceeds_order_revenue' end
            as reason
    from capped
    union all
    select
        event_id,
        order_id,
        amount,
        currency,
        merchant_reason,
        refunded_at,
        received_at,
        source,
        purchase_event_id,
        campaign_link_id,
        converted_at,
        order_revenue,
        0 as credited_amount,
        null as credited_through,
        refused as reason
    from joined
    where refused is not null

),

final as (

    select
        event_id,
        order_id,
        amount,
        currency,
        merchant_reason,
        refunded_at,
        received_at,
        source,
        purchase_event_id,
        campaign_link_id,
        converted_at,
        order_revenue,
        cast(credited_amount as decimal(10, 2)) as credited_amount,
        cast(amount - credited_amount as decimal(10, 2)) as uncredited_amount,
        cast(credited_through as decimal(10, 2)) as credited_through,
        cast(reason as {{ dbt.type_string() }}) as reason
    from judged

)

select * from final
