"""`convtrack serve --workers 2`: one server, two processes (docs/operations.md#workers).

Each test starts a real two-worker server on 127.0.0.1 and sends its requests over fresh
connections, which the kernel spreads over the workers. That both workers took part is
shown on disk, not assumed: each worker that stored an event has a log segment named
after its own writer id.
"""

from __future__ import annotations

import os
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pyarrow.parquet as pq
import pytest
from prometheus_client.parser import text_string_to_metric_families

from convtrack.core.raw_log import log_dir
from tests.conftest import Collector, start_collector, stop_collector

WORKERS = 2
# Fresh connections sent before giving up on the kernel handing one to each worker.
MAX_CONNECTIONS = 2000


@pytest.fixture
def two_workers(tmp_path: Path) -> Iterator[Collector]:
    # Segments neither rotate nor age during a test: the live ones name their writers.
    collector = start_collector(
        tmp_path / "data",
        tmp_path / "collector.log",
        workers=WORKERS,
        CONVTRACK_LOG_SEGMENT_MAX_AGE_S="3600",
    )
    yield collector
    stop_collector(collector)


def writers_in_log(collector: Collector) -> set[str]:
    """The writer ids of the log segments on disk (`<writer>-<seq>.log`)."""
    return {p.name.split("-")[0] for p in log_dir(collector.data_dir / "raw").glob("*.log")}


def writers_in_parquet(collector: Collector, stream: str) -> set[str]:
    return {
        p.name.split("-")[0] for p in (collector.data_dir / "raw" / stream).glob("dt=*/*.parquet")
    }


def on_fresh_connections(
    collector: Collector, send: Callable[[httpx.Client], None], at_least: int
) -> int:
    """Call `send` on a new connection each time, `at_least` times and then until both
    workers have a log segment; how many times it was called."""
    sent = 0
    while sent < at_least or len(writers_in_log(collector)) < WORKERS:
        assert sent < MAX_CONNECTIONS, f"one worker took all {sent} connections"
        with httpx.Client(base_url=collector.base_url, timeout=30) as client:
            send(client)
        sent += 1
    return sent


def create_link(collector: Collector, code: str) -> str:
    with collector.admin() as admin:
        resp = admin.post(
            "/api/campaign-links",
            json={"short_code": code, "destination_url": "https://creator.example/land"},
        )
    assert resp.status_code == 201, resp.text
    return resp.json()["campaign_link_id"]


def conversion(link_id: str, event_id: str | None = None) -> dict:
    return {
        "event_id": event_id or str(uuid.uuid4()),
        "tracking_id": str(uuid.uuid4()),
        "campaign_link_id": link_id,
        "event_type": "newsletter_signup",
    }


def test_each_worker_writes_its_own_log_and_a_link_made_or_disabled_on_one_holds_on_both(
    two_workers,
):
    # Both workers read the links at start, before this one existed: the worker that did
    # not create it finds it by reading the links again on a miss.
    link_id = create_link(two_workers, "both")
    statuses: Counter[int] = Counter()
    converted: list[str] = []

    def click_and_convert(client: httpx.Client) -> None:
        statuses[client.get("/c/both", follow_redirects=False).status_code] += 1
        event = conversion(link_id)
        resp = client.post("/api/conversions", json=event)
        statuses[resp.status_code] += 1
        if resp.status_code == 202:
            converted.append(event["event_id"])

    sent = on_fresh_connections(two_workers, click_and_convert, at_least=20)
    assert statuses == {302: sent, 202: sent}
    assert len(writers_in_log(two_workers)) == WORKERS  # one writer id per worker

    # Disabled through one worker, the link stops redirecting on both: the other re-reads
    # the links in the background of a redirect, within about a second.
    with two_workers.admin() as admin:
        assert admin.patch(f"/api/campaign-links/{link_id}", json={"disabled": True}).is_success
    in_a_row, deadline = 0, time.monotonic() + 30
    while in_a_row < 40:  # answers on fresh connections, so from either worker
        assert time.monotonic() < deadline, "a worker kept redirecting the disabled link"
        with httpx.Client(base_url=two_workers.base_url, timeout=30) as client:
            status = client.get("/c/both", follow_redirects=False).status_code
        in_a_row = in_a_row + 1 if status == 404 else 0
        assert status in (302, 404)

    stop_collector(two_workers)  # SIGTERM: every worker turns its log into Parquet
    assert list(log_dir(two_workers.data_dir / "raw").glob("*.log")) == []
    assert len(writers_in_parquet(two_workers, "clicks")) == WORKERS
    stored = Counter(
        e
        for f in (two_workers.data_dir / "raw" / "conversions").glob("dt=*/*.parquet")
        for e in pq.read_table(f, columns=["event_id"]).column("event_id").to_pylist()
    )
    assert stored == Counter(converted)


def scrape(collector: Collector) -> dict[tuple[str, tuple], float]:
    """One /metrics answer, on a fresh connection: sample (name, labels) -> value."""
    resp = httpx.get(f"{collector.base_url}/metrics", timeout=30)
    assert resp.status_code == 200
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(resp.text)
        for s in family.samples
    }


ACCEPTED = ("convtrack_events_accepted_total", (("stream", "conversions"),))
REJECTED = ("convtrack_events_rejected_total", (("code", "invalid_uuid"),))
POSTS = (
    "convtrack_request_duration_seconds_count",
    (("method", "POST"), ("route", "/api/conversions")),
)
PENDING = ("convtrack_log_pending_events", ())


def test_metrics_add_up_over_the_workers_whichever_answers(two_workers):
    link_id = create_link(two_workers, "counted")
    answers: Counter[int] = Counter()

    def convert(client: httpx.Client) -> None:
        answers[client.post("/api/conversions", json=conversion(link_id)).status_code] += 1

    accepted = on_fresh_connections(two_workers, convert, at_least=30)
    with httpx.Client(base_url=two_workers.base_url) as client:
        for _ in range(7):
            answers[client.post("/api/conversions", json=conversion("nope")).status_code] += 1
    assert answers == {202: accepted, 422: 7}

    # Each worker writes its pending count twice a second: wait for the sum to show.
    seen = scrape(two_workers)
    for _ in range(200):
        if seen.get(PENDING) == accepted:
            break
        seen = scrape(two_workers)
    assert seen.get(PENDING) == accepted
    for _ in range(10):  # the connections land on either worker: each answer has the sums
        seen = scrape(two_workers)
        assert seen[ACCEPTED] == accepted
        assert seen[REJECTED] == 7
        assert seen[POSTS] == accepted + 7
        assert seen[PENDING] == accepted


def test_the_rate_limit_is_per_worker_so_a_client_gets_at_most_workers_times_the_burst(
    tmp_path,
):
    burst = 4
    collector = start_collector(
        tmp_path / "data",
        tmp_path / "collector.log",
        workers=WORKERS,
        # No refill during the test (one token in 1,000 s): the bursts decide.
        CONVTRACK_RATE_LIMIT_PER_IP="0.001",
        CONVTRACK_RATE_LIMIT_BURST=str(burst),
    )
    try:
        create_link(collector, "limited")  # the admin API is not rate limited
        answers = []
        for _ in range(60):
            with httpx.Client(base_url=collector.base_url, timeout=30) as client:
                answers.append(client.get("/c/limited", follow_redirects=False))
    finally:
        stop_collector(collector)
    allowed = [r for r in answers if r.status_code == 302]
    refused = [r for r in answers if r.status_code != 302]
    # One bucket per worker: at least one burst, never more than one per worker.
    assert burst <= len(allowed) <= WORKERS * burst
    assert {r.status_code for r in refused} == {429}
    assert all(int(r.headers["Retry-After"]) >= 1 for r in refused)
    assert {r.json()["detail"]["code"] for r in refused} == {"rate_limited"}


def test_a_worker_that_died_unannounced_leaves_no_pending_count_behind(tmp_path):
    """uvicorn replaces a worker killed by a signal; the replacement, at its start, drops
    the dead one's live gauge (a live worker's stays)."""
    from collector.observability import forget_dead_workers

    gone = 2**22 + 1  # above Linux's pid limit: no process has it
    dead = tmp_path / f"gauge_livesum_{gone}.db"
    alive = tmp_path / f"gauge_livesum_{os.getpid()}.db"
    counts = tmp_path / f"counter_{gone}.db"  # counted events stay counted
    for path in (dead, alive, counts):
        path.write_bytes(b"")
    forget_dead_workers(tmp_path)
    assert sorted(tmp_path.iterdir()) == sorted([alive, counts])
