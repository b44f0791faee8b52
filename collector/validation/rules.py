"""The limits of docs/rules.md#validation and docs/api.md#limits, named once; the scalar and
the vectorised validators, the routes and the body-limit middleware read them.

The attribution window is not here: it belongs to dbt's vars and reaches the collector
through `Settings.attribution_window_days`. Nor are the event types: they are the raw
events' (`convtrack.core.raw_schema.EVENT_TYPES`).
"""

from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal

# decimal(10,2) in the raw schema: 8 integer digits, 2 decimals.
REVENUE_DECIMALS = 2
MAX_REVENUE = Decimal("99999999.99")
# Above this a purchase is still accepted, but flagged: usually a typo in cents vs units.
REVENUE_WARNING_THRESHOLD = Decimal("10000")

# event_data is free-form metadata, kept small so that one event stays one small row.
MAX_EVENT_DATA_BYTES = 8 * 1024

# UUIDs are accepted in their canonical 36-character text form only, so the same text
# check runs in Python and in Polars; they are stored lower-cased.
UUID_PATTERN = r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$"
UUID_RE = re.compile(UUID_PATTERN)
# A UUIDv7 holds a 48-bit Unix time in ms, which reaches the year 10889; past the last
# moment Python can represent (9999-12-31) the id carries no time that can be judged.
UUID7_MAX_MS = (dt.datetime.max - dt.datetime(1970, 1, 1)) // dt.timedelta(milliseconds=1)

# Revenue given as a string: plain decimal notation, no exponent, no thousands separator.
NUMERIC_PATTERN = r"^-?[0-9]+(\.[0-9]+)?$"
NUMERIC_RE = re.compile(NUMERIC_PATTERN)

# Request sizes (docs/api.md#limits). The tracker's single events and the redirect are held
# to 64 KB; a batch of MAX_BATCH_EVENTS events with event_data near its 8 KB limit cannot
# fit in that, so the routes that take many events (the batch, the admin import) declare
# the larger, still bounded limit (collector/body_limit.py). Bodies are counted while they
# arrive, never read whole first.
MAX_BODY_BYTES = 64 * 1024
MAX_BULK_BODY_BYTES = 1024 * 1024
MAX_BATCH_EVENTS = 500

# Every field of a raw row has a bound, so that no row comes near what one append-log
# record may hold (collector/storage/log.py) and no row is a denial of service downstream.
# Lengths are in characters; a character is at most 4 bytes of UTF-8.

# order_id: merchants' order numbers are short; a long one is a mistake or an attack.
MAX_ORDER_ID_CHARS = 128
# A refund's reason (docs/rules.md#refunds): the back office's short note ("damaged on
# arrival"), free text. Long enough for a sentence or two; a page of text is no reason.
MAX_REFUND_REASON_CHARS = 500
# Headers the redirect records are truncated to these lengths, never refused: the viewer
# must reach the landing page whatever the browser sends. Imports are truncated alike.
MAX_USER_AGENT_CHARS = 1024
MAX_REFERRER_CHARS = 2048
# Campaign links: the destination URL, and the free-text fields of a link.
MAX_URL_CHARS = 2048
MAX_CAMPAIGN_NAME_CHARS = 200
MAX_VIDEO_ID_CHARS = 64
MAX_PLACEMENT_CHARS = 64

# A campaign link's own attribution window (docs/rules.md#windows-per-link), in whole days:
# from 1 to this. 90 days is the longest window sponsors' affiliate terms commonly grant,
# and every day of window is a day more that retention must keep each click's IP address
# and user agent (retention is never shorter than the longest window + 1): a bound keeps
# that personal data's life, the warehouse's lookback and the tracker's memory short.
MAX_ATTRIBUTION_WINDOW_DAYS = 90

# touches: the campaign clicks the tracker saw before a conversion, oldest first, the
# conversion's own last (docs/rules.md#touches). The tracker keeps at most this many.
MAX_TOUCHES = 10

# Event times (imports bring their own): not before the raw layout's first day
# (convtrack.core.raw_schema.FIRST_DAY), and not further ahead of the collector's clock than
# this - a clock a little fast is normal, a date years ahead is a mistake.
MAX_EVENT_TIME_AHEAD = dt.timedelta(days=1)


def is_unicode_text(text: str) -> bool:
    """Whether `text` can be stored: JSON's `\\ud800` escapes parse into lone surrogates,
    which no UTF-8 file (Parquet, the log) can hold."""
    if text.isascii():
        return True
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def clip(text: str | None, max_chars: int) -> str | None:
    """`text` cut to `max_chars` characters (None stays None)."""
    return text if text is None or len(text) <= max_chars else text[:max_chars]
