"""The demo's story (convtrack/traffic.py): its multi-touch viewers carry paths the tracker
could have sent (docs/api.md#touch-paths)."""

from __future__ import annotations

import datetime as dt

from convtrack.traffic import build_story

TODAY = dt.date(2026, 3, 1)


def test_multi_touch_viewers_carry_earlier_clicks_on_other_videos() -> None:
    story = build_story(TODAY, seed=3)
    clicks = {c["tracking_id"]: c for c in story.clicks}
    videos = {link.short_code: link.youtube_video_id for link in story.links}
    with_touches = [c for c in story.conversions if "touches" in c]

    assert len({c["tracking_id"] for c in with_touches}) == story.planted["multi_touch_viewers"]
    assert {len(c["touches"]) for c in with_touches} == {2, 3}
    for conv in with_touches:
        *earlier, own = conv["touches"]
        assert own == {"tracking_id": conv["tracking_id"], "short_code": conv["short_code"]}
        times = [clicks[t["tracking_id"]]["clicked_at"] for t in conv["touches"]]
        assert times == sorted(times)  # oldest first, as the tracker keeps them
        for touch in earlier:
            assert touch["tracking_id"][14] == "7"  # a UUIDv7: the tracker could age it
            assert videos[touch["short_code"]] != videos[clicks[own["tracking_id"]]["short_code"]]
