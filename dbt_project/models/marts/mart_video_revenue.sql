-- Gross revenue, refunds, net revenue and the refund rate per YouTube video, over the
-- whole life of the video's links (docs/rules.md#refunds): mart_conversion_funnel's
-- columns summed over the links of each video, so a prune changes no number here.
-- Every video a link names has a row; links without a video share the row whose video is
-- null.

with

funnel as (

    select * from {{ ref('mart_conversion_funnel') }}

),

per_video as (

    select
        youtube_video_id,
        sum(purchases) as purchases,
        sum(revenue) as revenue,
        sum(refunded_revenue) as refunded_revenue
    from funnel
    group by youtube_video_id

),

final as (

    select
        youtube_video_id,
        cast(purchases as bigint) as purchases,
        cast(revenue as decimal(18, 2)) as revenue,
        cast(refunded_revenue as decimal(18, 2)) as refunded_revenue,
        cast(revenue - refunded_revenue as decimal(18, 2)) as net_revenue,
        cast(refunded_revenue as double) / nullif(cast(revenue as double), 0) as refund_rate
    from per_video

)

select * from final
