"""What the read API answers, as typed models: the shapes /openapi.json documents.

Values are the marts' as they are (docs/schemas.md#warehouse): money as a string with two
decimals, times as ISO-8601 text in UTC, rates as fractions of human clicks.
"""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BaseModel, Field

Money = Annotated[
    str,
    Field(
        description='an amount in the collector\'s currency, two decimals, e.g. "49.50"',
        pattern=r"^-?[0-9]+\.[0-9]{2}$",
    ),
]
Moment = Annotated[str, Field(description="ISO-8601 date and time, UTC")]
Day = Annotated[
    str, Field(description="a day, YYYY-MM-DD", pattern=r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$")
]
AsOf = Annotated[Day | None, Field(description="the day the published snapshot was built as of")]
# Answers over days (?from=&to=) say which; both null: over all time.
From = Annotated[Day | None, Field(alias="from", description="first day, inclusive")]
To = Annotated[Day | None, Field(description="last day, inclusive")]
Share = Annotated[
    str,
    Field(
        description='credited conversions: shares of conversions, six decimals, e.g. "0.333333"',
        pattern=r"^-?[0-9]+\.[0-9]{6}$",
    ),
]
Rate = Annotated[
    float | None, Field(description="a fraction of human clicks; null when there were none")
]
RefundRate = Annotated[
    float | None,
    Field(description="refunded_revenue / gross_revenue; null when gross revenue is 0"),
]
GrossRevenue = Annotated[Money, Field(description="revenue before refunds: the same as `revenue`")]
RefundedRevenue = Annotated[
    Money,
    Field(description="what credited refunds took back (docs/rules.md#refunds)"),
]
NetRevenue = Annotated[Money, Field(description="gross_revenue - refunded_revenue")]


class AttributedConversion(BaseModel):
    """One conversion credited to the click."""

    event_id: str
    event_type: str
    revenue_amount: Money | None
    currency: str | None
    order_id: str | None
    event_data: dict[str, Any] | None
    converted_at: Moment
    days_since_click: int | None


class Attribution(BaseModel):
    """The click behind a tracking id, what it converted into, and its window."""

    as_of: AsOf
    tracking_id: str
    campaign_link_id: str
    clicked_at: Moment
    is_bot: bool
    conversions: int
    revenue: Money
    first_converted_at: Moment | None
    last_converted_at: Moment | None
    window_ends_at: Moment = Field(description="the first moment outside the window")
    is_window_open: bool = Field(description="whether the window is open at the end of as_of")
    events: list[AttributedConversion]


class Funnel(BaseModel):
    """A campaign link's funnel: clicks, conversions by type, revenue (gross, refunded and
    net) and rates."""

    as_of: AsOf
    campaign_link_id: str
    short_code: str
    campaign_name: str | None
    youtube_video_id: str | None
    placement: str | None
    from_: From
    to: To
    clicks: int = Field(description="human clicks")
    bot_clicks: int
    converting_clicks: int | None = Field(
        description="distinct clicks that converted; null over days, which cannot add them up"
    )
    conversions: int
    newsletter_signups: int
    course_enrollments: int
    purchases: int
    revenue: Money
    click_to_conversion_rate: Rate
    newsletter_signup_rate: Rate
    course_enrollment_rate: Rate
    purchase_rate: Rate
    gross_revenue: GrossRevenue
    refunded_revenue: RefundedRevenue = Field(
        description="what credited refunds took back from the link's purchases; over days, "
        "the refunds of the purchases of those days (the accrual view)"
    )
    net_revenue: NetRevenue
    refund_rate: RefundRate


class TypeRevenue(BaseModel):
    """Conversions and revenue of one conversion type."""

    event_type: str
    conversions: int
    revenue: Money
    avg_revenue: Money | None
    gross_revenue: GrossRevenue
    refunded_revenue: RefundedRevenue = Field(
        description="what credited refunds took back (purchases only; 0 on other types); "
        "over days, the refunds of the purchases of those days (the accrual view)"
    )
    net_revenue: NetRevenue
    refund_rate: RefundRate


class RevenueByType(BaseModel):
    """A campaign link's conversions and revenue per conversion type."""

    as_of: AsOf
    campaign_link_id: str
    from_: From
    to: To
    types: list[TypeRevenue]


class ModelCredit(BaseModel):
    """What one attribution model credits a link with, for one conversion type."""

    event_type: str
    attribution_model: str = Field(
        description="last_click, first_click, linear, position_based or time_decay"
    )
    credited_conversions: Share
    credited_revenue: Money
    refunded_revenue: Money = Field(
        description="the link's shares of the credited refunds of these conversions, each "
        "split as its purchase's credit under the model (docs/rules.md#refunds)"
    )
    net_revenue: Money = Field(description="credited_revenue - refunded_revenue")


class AttributionModels(BaseModel):
    """A campaign link's credited conversions and revenue per conversion type and
    attribution model, over its whole life (docs/rules.md#attribution-models)."""

    as_of: AsOf
    campaign_link_id: str
    models: list[ModelCredit]
