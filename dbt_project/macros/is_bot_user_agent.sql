{#- Known crawlers, link-preview fetchers and scripted clients. Link previews matter
    most: pasting a short link into a chat makes the app fetch it, which is not a viewer.
    Matched case-insensitively as substrings; the generic words catch the long tail. -#}
{% macro bot_user_agent_patterns() -%}
    {{ return([
        'googlebot', 'bingbot', 'yandexbot', 'duckduckbot', 'baiduspider', 'applebot',
        'facebookexternalhit', 'facebookcatalog', 'twitterbot', 'slackbot',
        'slack-imgproxy', 'discordbot', 'whatsapp', 'telegrambot', 'linkedinbot',
        'skypeuripreview', 'redditbot', 'pinterestbot', 'embedly', 'vkshare',
        'curl', 'wget', 'python-requests', 'python-urllib', 'aiohttp', 'httpx',
        'go-http-client', 'java/', 'okhttp', 'libwww-perl', 'headlesschrome',
        'phantomjs', 'bot', 'crawler', 'spider', 'preview',
    ]) }}
{%- endmacro %}

{#- True when the user agent is missing or matches a known pattern: a click without a
    user agent is not something a browser sends. -#}
{% macro is_bot_user_agent(user_agent) -%}
(
    {{ user_agent }} is null
    or trim({{ user_agent }}) = ''
    {%- for pattern in bot_user_agent_patterns() %}
    or lower({{ user_agent }}) like '%{{ pattern }}%'
    {%- endfor %}
)
{%- endmacro %}
