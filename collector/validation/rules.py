"""The limits of SPEC §4.1 and §5, named once; the scalar and the vectorised validators read them.

The attribution window is not here: it belongs to dbt's vars and reaches the collector
through `Settings.attribution_window_days`.
"""

from __future__ import annotations

import re
from decimal import Decimal

EVENT_TYPES: tuple[str, ...] = ("newsletter_signup", "course_enrollment", "purchase")

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

# Revenue given as a string: plain decimal notation, no exponent, no thousands separator.
NUMERIC_PATTERN = r"^-?[0-9]+(\.[0-9]+)?$"
NUMERIC_RE = re.compile(NUMERIC_PATTERN)

# Request sizes (SPEC §5: "requests over 64 KB → 413"). The tracker's single events and the
# redirect are held to 64 KB; a batch of MAX_BATCH_EVENTS events with event_data near its
# 8 KB limit cannot fit in that, so the batch and the admin import get a larger, still
# bounded limit. Bodies are counted while they arrive, never read whole first.
MAX_BODY_BYTES = 64 * 1024
MAX_BULK_BODY_BYTES = 1024 * 1024
MAX_BATCH_EVENTS = 500
