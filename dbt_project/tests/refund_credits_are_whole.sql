-- Every credited refund, under every attribution model its purchase has credits in, is
-- split to the cent (docs/rules.md#refunds): its shares sum to its credited_amount, and
-- no order is refunded more than its revenue. A row is a refund (and model) where that
-- fails.

with

refunds as (

    select * from {{ ref('int_refunds_judged') }}
    where credited_amount > 0

),

shares as (

    select * from {{ ref('int_refund_credits') }}

),

per_model as (

    select
        event_id,
        attribution_model,
        sum(refunded_revenue) as refunded_revenue
    from shares
    group by event_id, attribution_model

),

per_order as (

    select
        order_id,
        max(order_revenue) as order_revenue,
        sum(credited_amount) as credited_amount
    from refunds
    group by order_id

)

select
    refunds.event_id,
    per_model.attribution_model,
    'split' as what
from refunds
inner join per_model
    on refunds.event_id = per_model.event_id
where per_model.refunded_revenue != refunds.credited_amount
union all
select
    order_id as event_id,
    null as attribution_model,
    'order' as what
from per_order
where credited_amount > order_revenue
