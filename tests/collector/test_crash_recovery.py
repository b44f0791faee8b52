"""`kill -9` under load, again and again: nothing acknowledged is lost, nothing doubled.

A real `convtrack serve` (one worker, and two) takes concurrent conversions (client
event_ids) and redirects; after a random number of acknowledged answers the whole server
(supervisor and workers) gets SIGKILL and is started again on the same data directory. At the end every event answered 202 (and every click answered
302) is in the raw Parquet exactly once, and every visible `.parquet` file reads.

Then hostile input: headers of every size up to 17 MB, text the log cannot encode, and a
record damaged on disk between acknowledged events; none of it hides the others.
"""

from __future__ import annotations

import os
import random
import threading
import time
import uuid
from collections import Counter
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import httpx
import pyarrow.parquet as pq
import pytest

from collector.validation.rules import MAX_REFERRER_CHARS, MAX_USER_AGENT_CHARS
from tests.conftest import Collector, kill_collector, start_collector, stop_collector

ROUNDS = 5
SENDERS = 6


class Load:
    """Sender threads and what the collector acknowledged to them."""

    def __init__(self, collector: Collector, link_id: str, code: str, seed: int) -> None:
        self.collector, self.link_id, self.code = collector, link_id, code
        self.lock = threading.Lock()
        self.acked_conversions: list[str] = []
        self.sent_conversions: list[str] = []
        self.acked_clicks: list[str] = []
        self.unexpected: list[str] = []
        self.stop = threading.Event()
        self.threads = [
            threading.Thread(target=self._send, args=(random.Random(seed + i),), daemon=True)
            for i in range(SENDERS)
        ]

    @property
    def acked(self) -> int:
        with self.lock:
            return len(self.acked_conversions) + len(self.acked_clicks)

    def _send(self, rng: random.Random) -> None:
        with httpx.Client(base_url=self.collector.base_url, timeout=10) as client:
            while not self.stop.is_set():
                try:
                    if rng.random() < 0.6:
                        self._convert(client)
                    else:
                        self._click(client)
                except httpx.TransportError:
                    return  # the process is gone

    def _convert(self, client: httpx.Client) -> None:
        event_id = str(uuid.uuid4())
        with self.lock:
            self.sent_conversions.append(event_id)
        body = {
            "event_id": event_id,
            "tracking_id": str(uuid.uuid4()),
            "campaign_link_id": self.link_id,
            "event_type": "purchase",
            "revenue_amount": "19.99",
        }
        resp = client.post("/api/conversions", json=body)
        with self.lock:
            if resp.status_code == 202:
                self.acked_conversions.append(event_id)
            else:
                self.unexpected.append(f"conversion {resp.status_code} {resp.text}")

    def _click(self, client: httpx.Client) -> None:
        resp = client.get(f"/c/{self.code}", follow_redirects=False)
        with self.lock:
            if resp.status_code == 302:
                query = parse_qs(urlsplit(resp.headers["location"]).query)
                self.acked_clicks.append(query["ct_tracking_id"][0])
            else:
                self.unexpected.append(f"redirect {resp.status_code} {resp.text}")

    def start(self) -> None:
        for t in self.threads:
            t.start()

    def wait_for_acks(self, count: int, timeout: float = 30) -> None:
        deadline = time.monotonic() + timeout
        while self.acked < count:
            assert time.monotonic() < deadline, f"only {self.acked} of {count} acks in {timeout}s"
            assert self.collector.process.poll() is None, "the collector died by itself"
            time.sleep(0.002)

    def join(self) -> None:
        self.stop.set()
        for t in self.threads:
            t.join(timeout=20)
            assert not t.is_alive(), "a sender hung after the kill"


def visible_parquet(raw: Path) -> list[Path]:
    return sorted(raw.glob("*/dt=*/*.parquet"))


def column(raw: Path, stream: str, name: str) -> list[str]:
    return [
        value
        for f in sorted((raw / stream).glob("dt=*/*.parquet"))
        for value in pq.read_table(f, columns=[name]).column(name).to_pylist()
    ]


@pytest.mark.parametrize("workers", [1, 2])
def test_sigkill_under_load_loses_and_doubles_nothing(tmp_path, workers):
    seed = int.from_bytes(os.urandom(4), "big")
    rng = random.Random(seed)
    data, raw = tmp_path / "data", tmp_path / "data" / "raw"
    log_path = tmp_path / "collector.log"

    # Small segments: rotations and conversions to Parquet run all the time, so kills
    # land in them too, not only in appends.
    env = {"CONVTRACK_LOG_SEGMENT_MAX_BYTES": "16384"}
    collector = start_collector(data, log_path, workers=workers, **env)
    with collector.admin() as admin:
        resp = admin.post(
            "/api/campaign-links",
            json={"short_code": "crash", "destination_url": "https://example.com/land?a=1"},
        )
    assert resp.status_code == 201, resp.text
    link_id = resp.json()["campaign_link_id"]

    acked_conversions: list[str] = []
    sent_conversions: list[str] = []
    acked_clicks: list[str] = []
    for round_no in range(ROUNDS):
        load = Load(collector, link_id, "crash", seed + 100 * round_no)
        load.start()
        kill_after = rng.randint(100, 500)
        load.wait_for_acks(kill_after)
        kill_collector(collector)  # returns once no worker is left
        load.join()
        assert load.unexpected == [], f"seed {seed}: {load.unexpected[:3]}"
        acked_conversions += load.acked_conversions
        sent_conversions += load.sent_conversions
        acked_clicks += load.acked_clicks
        # Whatever the kill interrupted, no reader may meet an unreadable file.
        for f in visible_parquet(raw):
            pq.read_metadata(f)
        collector = start_collector(data, log_path, workers=workers, **env)

    # The last start recovered the last kill's log (it took no appends since).
    stop_collector(collector)
    assert list((raw / "_log").glob("*.log")) == []
    for f in visible_parquet(raw):
        pq.read_table(f)
    # Rotation really happened while the process lived: many segments became Parquet.
    event_files = [f for f in visible_parquet(raw) if f.parts[-3] != "campaign_links"]
    assert len(event_files) > 3 * ROUNDS
    # Files carry their writer's id, new at each start: with several workers, several
    # wrote in the same life of the server (one worker alone gives one id per start).
    if workers > 1:
        assert len({f.name.split("-")[0] for f in event_files}) > ROUNDS + 1

    stored = Counter(column(raw, "conversions", "event_id"))
    missing = [e for e in acked_conversions if stored[e] != 1]
    assert missing == [], f"seed {seed}: acknowledged conversions not stored once: {missing[:5]}"
    assert all(stored[e] <= 1 for e in sent_conversions), f"seed {seed}: a conversion doubled"
    assert set(stored) <= set(sent_conversions)

    clicks = Counter(column(raw, "clicks", "tracking_id"))
    assert [t for t in acked_clicks if clicks[t] != 1] == [], f"seed {seed}: clicks lost"
    assert max(Counter(column(raw, "clicks", "event_id")).values()) == 1
    assert len(acked_conversions) + len(acked_clicks) >= ROUNDS * 100


# Header sizes a browser or a bot may send, up to the one that lost events in issue 8.
HEADER_SIZES = [0, 1024, 60 * 1024, 1024 * 1024, 8 * 1000 * 1000, 17 * 1000 * 1000]


def damage_record(segment: Path, marker: str) -> None:
    """Flip the byte after `marker` in `segment`, as failing storage would (not the marker
    itself, so that the damaged record can still be found by it)."""
    at = segment.read_bytes().index(marker.encode()) + len(marker) + 1
    fd = os.open(segment, os.O_RDWR)
    try:
        [byte] = os.pread(fd, 1, at)
        os.pwrite(fd, bytes([byte ^ 0xFF]), at)
        os.fsync(fd)
    finally:
        os.close(fd)


def test_huge_headers_and_a_damaged_record_hide_no_acknowledged_event(tmp_path):
    data, raw = tmp_path / "data", tmp_path / "data" / "raw"
    log_path = tmp_path / "collector.log"
    env = {"CONVTRACK_LOG_SEGMENT_MAX_AGE_S": "3600"}  # one live segment for the whole test
    # One worker: one live segment holds every event, and the flush below flushes it.
    collector = start_collector(data, log_path, workers=1, **env)
    # The kill below is the crash under test, and also stops the process if the test
    # fails before it.
    try:
        with collector.admin() as admin:
            resp = admin.post(
                "/api/campaign-links",
                json={"short_code": "huge", "destination_url": "https://example.com/land"},
            )
        assert resp.status_code == 201, resp.text
        link_id = resp.json()["campaign_link_id"]
        acked_conversions: list[str] = []
        acked_clicks: list[str] = []
        unexpected: list[str] = []

        def convert(http: httpx.Client) -> None:
            event_id = str(uuid.uuid4())
            body = {
                "event_id": event_id,
                "tracking_id": str(uuid.uuid4()),
                "campaign_link_id": link_id,
                "event_type": "newsletter_signup",
            }
            resp = http.post("/api/conversions", json=body)
            if resp.status_code == 202:
                acked_conversions.append(event_id)
            else:
                unexpected.append(f"conversion {resp.status_code} {resp.text[:200]}")

        def click(http: httpx.Client, size: int) -> None:
            headers = {"User-Agent": "u" * size, "Referer": "https://example.com/" + "r" * size}
            resp = http.get("/c/huge", headers=headers, follow_redirects=False)
            if resp.status_code == 302:
                query = parse_qs(urlsplit(resp.headers["location"]).query)
                acked_clicks.append(query["ct_tracking_id"][0])
            else:
                unexpected.append(f"click of {size} B headers: {resp.status_code}")

        def unencodable() -> None:
            # A lone surrogate: valid JSON text, but no UTF-8 string; a 4xx, never a 500.
            body = (
                f'{{"tracking_id": "{uuid.uuid4()}", "campaign_link_id": "{link_id}", '
                '"event_type": "purchase", "revenue_amount": "5.00", "order_id": "\\ud800"}'
            )
            try:  # on a connection of its own: a server error may drop it
                resp = httpx.post(f"{collector.base_url}/api/conversions", content=body.encode())
            except httpx.TransportError as exc:
                unexpected.append(f"unencodable order_id: {exc!r}")
                return
            if resp.status_code != 422:
                unexpected.append(f"unencodable order_id: {resp.status_code} {resp.text[:200]}")

        def interleaved(http: httpx.Client) -> None:
            for size in HEADER_SIZES:
                convert(http)
                click(http, size)
                unencodable()
                convert(http)

        with httpx.Client(base_url=collector.base_url, timeout=60) as http:
            interleaved(http)
            # Storage damages one acknowledged record between others in the live segment.
            victim = acked_conversions[len(acked_conversions) // 2]
            [segment] = (raw / "_log").glob("*.log")
            damage_record(segment, victim)
            interleaved(http)
    finally:
        kill_collector(collector)

    collector = start_collector(
        data, log_path, workers=1, **env
    )  # recovers the dead writer's segment
    try:
        with collector.admin() as admin:
            assert admin.post("/api/admin/flush").status_code == 200
    finally:
        stop_collector(collector)

    stored = Counter(column(raw, "conversions", "event_id"))
    lost = [e for e in acked_conversions if e != victim and stored[e] != 1]
    assert lost == [], f"{len(lost)} acknowledged conversions not stored once"
    assert set(stored) == set(acked_conversions) - {victim}
    # The damaged one is not silently gone: its bytes are kept beside the log.
    kept = [
        p for p in (raw / "_log" / "quarantine").rglob("*.bad") if victim.encode() in p.read_bytes()
    ]
    assert len(kept) == 1
    clicks = Counter(column(raw, "clicks", "tracking_id"))
    assert [t for t in acked_clicks if clicks[t] != 1] == []
    assert max(len(ua or "") for ua in column(raw, "clicks", "user_agent")) == MAX_USER_AGENT_CHARS
    assert max(len(r or "") for r in column(raw, "clicks", "referrer")) == MAX_REFERRER_CHARS
    assert unexpected == []
