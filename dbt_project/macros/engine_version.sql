{#- The version of the engine running the build, as text (`_meta.engine_version`): the
    engine's own answer, so a Spark cluster reports its version, not the client's. -#}
{% macro engine_version() -%}
    {{ return(adapter.dispatch('engine_version', 'convtrack')()) }}
{%- endmacro %}

{% macro default__engine_version() -%}
    {{ exceptions.raise_compiler_error("engine_version is not implemented for " ~ target.type) }}
{%- endmacro %}

{#- DuckDB says v2.0.1. -#}
{% macro duckdb__engine_version() -%}
    ltrim(version(), 'v')
{%- endmacro %}

{#- Spark says its version, a space and the commit it was built from. -#}
{% macro spark__engine_version() -%}
    substring_index(version(), ' ', 1)
{%- endmacro %}
