{#- Part of prune_row_level_data (macros/retention/prune_row_level_data.sql): what the
    conversions this prune removes count for their link under each window of
    mart_window_sensitivity (macros/marts/window_sensitivity.sql), among the conversions
    no earlier prune removed, summed per link x window into `pruned_windows`; then the
    orders they count under each window into `pruned_window_orders`, so no other copy
    counts for them there again. `pruned_now` is the condition on tracking_id that picks
    this prune's. -#}
{% macro record_pruned_window_sensitivity(
    pruned_windows, pruned_window_orders, pruned_conversions, pruned_now, as_of_sql, fail_after
) -%}
    {%- set matched = ref('int_conversions_matched_to_clicks') -%}
    {%- set links = ref('dim_campaign_links') -%}
    {%- if _relation_exists(matched) and _relation_exists(links) -%}
        {%- set counted_now -%}
            with
            windows as ({{ sensitivity_windows(links) }}),
            matched as (
                select * from {{ matched }}
                where event_id not in (select event_id from {{ pruned_conversions }})
            ),
            {{ sensitivity_counted_ctes('windows', 'matched', pruned_window_orders) }}
        {%- endset -%}
        {%- call statement('record_pruned_window_sensitivity') -%}
            insert into {{ pruned_windows }}
            {{ counted_now }}
            select
                campaign_link_id,
                window_days,
                cast(count(*) as {{ dbt.type_bigint() }}) as conversions,
                cast(sum(coalesce(revenue_amount, 0)) as decimal(18, 2)) as revenue,
                {{ as_of_sql }} as pruned_as_of
            from sensitivity_counted
            where {{ pruned_now }}
            group by campaign_link_id, window_days
        {%- endcall -%}
        {{ prune_checkpoint('record ' ~ pruned_windows, fail_after) }}
        {%- call statement('record_pruned_window_order_ids') -%}
            insert into {{ pruned_window_orders }}
            {{ counted_now }}
            select distinct
                order_id,
                window_days,
                {{ as_of_sql }} as pruned_as_of
            from sensitivity_counted
            where {{ pruned_now }} and is_order_purchase
        {%- endcall -%}
        {{ prune_checkpoint('record ' ~ pruned_window_orders, fail_after) }}
    {%- endif -%}
{%- endmacro %}
