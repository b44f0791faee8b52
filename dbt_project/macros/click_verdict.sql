{#- The verdict on a claim to a click, the one rule a conversion's own click and each of
    its touches are judged by (docs/rules.md#attribution, docs/rules.md#touches): `passed`
    when the click exists, is on the link claimed, is not later than the conversion beyond
    the clock-skew allowance and lies within the window; else the first reason it fails.
    The arguments are column expressions: the click's time, whether retention removed it,
    the link claimed, the click's link, the microseconds from click to conversion, and
    the window in days: the own window of the click's link in the version current at the
    click (int_campaign_link_windows, docs/rules.md#windows-per-link), null for the default
    var('attribution_window_days') - or a fixed number (mart_window_sensitivity). -#}
{% macro click_verdict(
    clicked_at, is_click_pruned, link, click_link, elapsed_us, passed, own_window_days='null'
) -%}
    {%- set window_days = link_window_days(own_window_days) -%}
    {%- set skew_us = (var('clock_skew_minutes') | int) * 60 * 1000000 -%}
    case
        -- Retention removed the click: it existed, but can no longer be judged.
        when {{ clicked_at }} is null and {{ is_click_pruned }} then 'click_pruned'
        when {{ clicked_at }} is null then 'no_click'
        when {{ link }} != {{ click_link }} then 'link_mismatch'
        when {{ elapsed_us }} < -{{ skew_us }} then 'before_click'
        when floor({{ elapsed_us }} / {{ 86400 * 1000000 }}) > {{ window_days }} then 'window_expired'
        else '{{ passed }}'
    end
{%- endmacro %}

{#- A link's window in days as a column expression: its own (a column or a number, null
    when it has none), else the default window. -#}
{% macro link_window_days(own_window_days='null') -%}
    coalesce({{ own_window_days }}, {{ run_var('attribution_window_days') | int }})
{%- endmacro %}

{#- The join condition that picks, for a click, the version of its link current at the
    click (docs/rules.md#windows-per-link): the latest recorded at or before the click; a
    click older than every version (imported history) takes the first version.
    `windows` is the alias of int_campaign_link_windows. -#}
{% macro at_click_version(windows, click_link, clicked_at) -%}
    {{ windows }}.campaign_link_id = {{ click_link }}
    and ({{ windows }}.valid_from is null or {{ clicked_at }} >= {{ windows }}.valid_from)
    and ({{ windows }}.valid_to is null or {{ clicked_at }} < {{ windows }}.valid_to)
{%- endmacro %}
