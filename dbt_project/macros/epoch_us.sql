{#- Microseconds since the epoch of a UTC timestamp without zone. Elapsed time is the
    difference of two of these: date_diff counts crossed boundaries, which is wrong at the
    window edges (23:59 -> 00:01 would be "a day"). -#}
{% macro epoch_us(ts) -%}
    {{ return(adapter.dispatch('epoch_us', 'convtrack')(ts)) }}
{%- endmacro %}

{% macro default__epoch_us(ts) -%}
    {{ exceptions.raise_compiler_error("epoch_us is not implemented for " ~ target.type) }}
{%- endmacro %}

{% macro duckdb__epoch_us(ts) -%}
    epoch_us({{ ts }})
{%- endmacro %}

{% macro spark__epoch_us(ts) -%}
    unix_micros({{ ts }})
{%- endmacro %}
