{#- The verdict on a claim to a click, the one rule a conversion's own click and each of
    its touches are judged by (docs/rules.md#attribution, docs/rules.md#touches): `passed`
    when the click exists, is on the link claimed, is not later than the conversion beyond
    the clock-skew allowance and lies within the window; else the first reason it fails.
    The arguments are column expressions: the click's time, whether retention removed it,
    the link claimed, the click's link, and the microseconds from click to conversion. -#}
{% macro click_verdict(clicked_at, is_click_pruned, link, click_link, elapsed_us, passed) -%}
    {%- set window_days = run_var('attribution_window_days') | int -%}
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
