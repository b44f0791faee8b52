{#- mart_window_sensitivity's rule (docs/rules.md#window-sensitivity), in one place for
    the mart and for the prune, which records what the conversions it removes count under
    each window before they go (macros/retention/prune_row_level_data.sql). -#}

{#- Each link's windows: those of var('sensitivity_windows_days') and its own (its
    current version's, or the default; is_link_window). `links`: dim_campaign_links. -#}
{% macro sensitivity_windows(links) -%}
    {%- set windows = var('sensitivity_windows_days') -%}
    select distinct
        campaign_link_id,
        window_days,
        is_link_window
    from (
        {% for window_days in windows -%}
            select
                campaign_link_id,
                {{ window_days | int }} as window_days,
                {{ window_days | int }} = {{ link_window_days('attribution_window_days') }}
                    as is_link_window
            from {{ links }}
            union all
        {% endfor -%}
        select
            campaign_link_id,
            {{ link_window_days('attribution_window_days') }} as window_days,
            true as is_link_window
        from {{ links }}
    ) as listed
{%- endmacro %}

{#- The conversions that count for their link under each window, one row per conversion
    and window: those whose own click passes the verdict (macros/click_verdict.sql) with
    that window, every other reason a conversion is not credited holding whatever the
    window; a purchase counts once per order and window, the first counted copy among
    those that pass, and never where a prune recorded the order as counted under that
    window. Common table expressions, the last `sensitivity_counted`, to follow a `with`:
    `windows` names one of sensitivity_windows' rows, `matched` one of
    int_conversions_matched_to_clicks' rows, `counted_orders` the (order_id,
    window_days) pruning recorded. -#}
{% macro sensitivity_counted_ctes(windows, matched, counted_orders) -%}
sensitivity_judgeable as (

    -- The conversions whose verdict turns on the window alone: every other reason a
    -- conversion is not credited holds whatever the window.
    select
        event_id,
        tracking_id,
        campaign_link_id,
        event_type,
        revenue_amount,
        order_id,
        converted_at,
        received_at,
        clicked_at,
        {{ epoch_us('converted_at') }} - {{ epoch_us('clicked_at') }} as elapsed_us
    from {{ matched }}
    where attribution_status in ('attributed', 'window_expired', 'duplicate_order')

),

sensitivity_judged as (

    select
        windows.campaign_link_id,
        windows.window_days,
        judgeable.event_id,
        judgeable.tracking_id,
        judgeable.event_type,
        judgeable.revenue_amount,
        judgeable.order_id,
        judgeable.converted_at,
        judgeable.received_at,
        {{ click_verdict(
            'judgeable.clicked_at', 'false', 'judgeable.campaign_link_id',
            'judgeable.campaign_link_id', 'judgeable.elapsed_us', 'passed',
            'windows.window_days',
        ) }} as verdict
    from {{ windows }} as windows
    inner join sensitivity_judgeable as judgeable
        on windows.campaign_link_id = judgeable.campaign_link_id

),

sensitivity_passing as (

    select
        judged.*,
        coalesce(judged.event_type = 'purchase' and judged.order_id is not null, false)
            as is_order_purchase,
        counted_orders.order_id is not null as is_order_counted_before
    from sensitivity_judged as judged
    left join {{ counted_orders }} as counted_orders
        on
            judged.order_id = counted_orders.order_id
            and judged.window_days = counted_orders.window_days
    where judged.verdict = 'passed'

),

sensitivity_ranked as (

    select
        *,
        row_number() over (
            partition by window_days, order_id, is_order_purchase
            order by {{ order_copies_first_counted() }}
        ) as order_rank
    from sensitivity_passing

),

sensitivity_counted as (

    select * from sensitivity_ranked
    where not (is_order_purchase and (order_rank > 1 or is_order_counted_before))

)
{%- endmacro %}
