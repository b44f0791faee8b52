-- Credited refunds per reporting day and link, two ways (docs/rules.md#refunds): the
-- cash view counts a refund on its own day (refunded_at), the accrual view charges it to
-- its purchase's day (converted_at) - calendar days in var('reporting_timezone'), as in
-- agg_daily_link_metrics. Rebuilt from fct_refunds each run, not incremental: an accrual
-- refund lands on a day long past, and refunds are few. A prune changes no row.

with

refunds as (

    select * from {{ ref('fct_refunds') }}

),

unioned as (

    select
        {{ to_reporting_date('refunded_at') }} as metric_date,
        campaign_link_id,
        1 as cash_refunds,
        credited_amount as cash_refunded_revenue,
        0 as accrual_refunds,
        cast(0 as decimal(10, 2)) as accrual_refunded_revenue
    from refunds
    union all
    select
        {{ to_reporting_date('converted_at') }} as metric_date,
        campaign_link_id,
        0 as cash_refunds,
        cast(0 as decimal(10, 2)) as cash_refunded_revenue,
        1 as accrual_refunds,
        credited_amount as accrual_refunded_revenue
    from refunds

),

final as (

    select
        metric_date,
        campaign_link_id,
        cast(sum(cash_refunds) as bigint) as cash_refunds,
        cast(sum(cash_refunded_revenue) as decimal(18, 2)) as cash_refunded_revenue,
        cast(sum(accrual_refunds) as bigint) as accrual_refunds,
        cast(sum(accrual_refunded_revenue) as decimal(18, 2)) as accrual_refunded_revenue
    from unioned
    group by metric_date, campaign_link_id

)

select * from final
