-- Every refund event is accounted for to the cent (docs/rules.md#refunds): its credited
-- part in fct_refunds plus its uncredited part in fct_unattributed_refunds is its amount.
-- Rows returned are refunds that do not add up.

with

refunds as (

    select * from {{ ref('stg_collector__refunds') }}

),

credited as (

    select * from {{ ref('fct_refunds') }}

),

ledger as (

    select * from {{ ref('fct_unattributed_refunds') }}

)

select
    refunds.event_id,
    refunds.amount,
    credited.credited_amount,
    ledger.uncredited_amount
from refunds
left join credited
    on refunds.event_id = credited.event_id
left join ledger
    on refunds.event_id = ledger.event_id
where
    coalesce(credited.credited_amount, 0) + coalesce(ledger.uncredited_amount, 0)
    != refunds.amount
