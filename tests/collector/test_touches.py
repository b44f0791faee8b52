"""Touches of a conversion: checked like its own ids, by the same rule on every path
(single, batch, import), stored as the raw column `touches`: compact JSON text."""

from __future__ import annotations

import datetime as dt
import json

import pyarrow as pa
import pyarrow.parquet as pq
from hypothesis import HealthCheck, given
from hypothesis import settings as examples
from hypothesis import strategies as st

from collector.ingest.importer import import_file, import_rows
from collector.storage import ParquetRawEventStore
from collector.validation.rules import MAX_TOUCHES
from collector.validation.scalar import check_conversion
from convtrack.core import raw_schema
from convtrack.core.settings import Settings
from tests.collector.conftest import read_stream, uuid7_at
from tests.collector.strategies import LINK, NOW, WINDOW, as_request_body, events_with_touches


def conversion(link_id: str, touches: object, clicked: dt.datetime | None = None) -> dict:
    tracking_id = uuid7_at(clicked or dt.datetime.now(dt.UTC).replace(tzinfo=None))
    body = {"tracking_id": tracking_id, "campaign_link_id": link_id, "event_type": "purchase"}
    return {**body, "revenue_amount": "5.00", "touches": touches}


def own(body: dict) -> dict:
    return {"tracking_id": body["tracking_id"], "campaign_link_id": body["campaign_link_id"]}


def earlier(link_id: str, days_ago: int) -> dict:
    clicked = dt.datetime.now(dt.UTC).replace(tzinfo=None) - dt.timedelta(days=days_ago)
    return {"tracking_id": uuid7_at(clicked), "campaign_link_id": link_id}


def problems(resp) -> list[tuple[str, str]]:
    """(code, field) of a 422: one problem comes as an object, several as a list."""
    assert resp.status_code == 422, resp.text
    detail = resp.json()["detail"]
    return [(p["code"], p["field"]) for p in (detail if isinstance(detail, list) else [detail])]


def test_a_path_of_ten_touches_is_stored_lower_cased_in_order(client, settings, link):
    link_id = link["campaign_link_id"]
    body = conversion(link_id, None)
    path = [earlier(link_id, d) for d in range(MAX_TOUCHES - 1, 0, -1)]
    path[0] = {k: v.upper() for k, v in path[0].items()}
    body["touches"] = [*path, own(body)]
    resp = client.post("/api/conversions", json=body)
    assert resp.status_code == 202, resp.text
    (row,) = read_stream(settings, "conversions")
    # Compact, keys in one order, ids lower-cased: the same touches, the same text.
    assert (
        row["touches"]
        == "["
        + ",".join(
            f'{{"tracking_id":"{t["tracking_id"].lower()}",'
            f'"campaign_link_id":"{t["campaign_link_id"].lower()}"}}'
            for t in body["touches"]
        )
        + "]"
    )


def test_without_touches_or_with_none_the_column_is_null(client, settings, link):
    link_id = link["campaign_link_id"]
    for touches in (None, []):
        assert client.post("/api/conversions", json=conversion(link_id, touches)).status_code == 202
    assert [r["touches"] for r in read_stream(settings, "conversions")] == [None, None]


def test_each_bad_touch_is_named_by_its_place(client, link):
    link_id = link["campaign_link_id"]
    body = conversion(link_id, None)
    future = dt.datetime.now(dt.UTC).replace(tzinfo=None) + dt.timedelta(days=3)
    body["touches"] = [
        earlier(link_id, 2),
        {"tracking_id": "not-a-uuid", "campaign_link_id": link_id},
        "junk",
        {"tracking_id": uuid7_at(future)},
        own(body),
    ]
    assert problems(client.post("/api/conversions", json=body)) == [
        ("invalid_uuid", "touches[1].tracking_id"),
        ("invalid_touch", "touches[2]"),
        ("tracking_id_in_future", "touches[3].tracking_id"),
        ("missing_field", "touches[3].campaign_link_id"),
    ]


def test_too_many_touches_or_a_path_not_ending_with_its_own_ids_is_refused(client, link):
    link_id = link["campaign_link_id"]
    body = conversion(link_id, None)
    body["touches"] = [earlier(link_id, 1)] * MAX_TOUCHES + [own(body)]
    assert problems(client.post("/api/conversions", json=body)) == [("invalid_touches", "touches")]
    body["touches"] = [own(body), earlier(link_id, 1)]
    assert problems(client.post("/api/conversions", json=body)) == [
        ("touches_not_ending_with_own", "touches[1]")
    ]


def test_a_batch_refuses_a_bad_touch_as_the_single_endpoint_does(client, settings, link):
    link_id = link["campaign_link_id"]
    good = conversion(link_id, None)
    good["touches"] = [earlier(link_id, 3), own(good)]
    bad = conversion(link_id, [{"tracking_id": 7, "campaign_link_id": link_id}])
    single = problems(client.post("/api/conversions", json=bad))
    assert single == [("invalid_uuid", "touches[0].tracking_id")]
    resp = client.post("/api/conversions/batch", json={"events": [bad, good]})
    assert resp.status_code == 202
    errors = resp.json()["results"][0]["errors"]
    assert [(p["code"], p["field"]) for p in errors] == single
    assert [json.loads(r["touches"]) for r in read_stream(settings, "conversions")] == [
        good["touches"]
    ]


@examples(max_examples=200, deadline=None, suppress_health_check=list(HealthCheck), database=None)
@given(batch=st.lists(events_with_touches(), min_size=1, max_size=10))
def test_an_import_judges_touches_as_the_api_does(tmp_path_factory, batch):
    """Same touch problems (code, field, order) from the importer as from the scalar rule,
    and the same touches stored."""
    tmp = tmp_path_factory.mktemp("import")
    bodies = [as_request_body(e) for e in batch]
    scalar = [
        check_conversion(b, link_ids={LINK}, currency="USD", window_days=WINDOW, event_time=NOW)
        for b in bodies
    ]
    rows = [{**b, "converted_at": NOW.isoformat()} for b in bodies]
    s = Settings(data_dir=tmp / "data")
    result = import_rows(
        rows,
        "conversions",
        settings=s,
        link_ids=[LINK],
        store=ParquetRawEventStore(s.raw_dir),
        now=NOW,
    )
    for i, check in enumerate(scalar, 1):
        from_api = [(p.code, p.field) for p in check.problems if p.field.startswith("touches")]
        from_import = [
            (p.code, p.field)
            for p in result.problems
            if p.row == i and p.field.startswith("touches")
        ]
        assert from_import == from_api, bodies[i - 1]
    accepted = dict(result.accepted_ids)
    stored = {r["event_id"]: r["touches"] for r in read_stream(s, "conversions")}
    for i, check in enumerate(scalar, 1):
        if i in accepted:
            assert stored[accepted[i]] == check.values["touches"]


def test_a_parquet_import_reads_touches_as_lists_or_json_text_and_files_without_them(
    settings, link, tmp_path
):
    """A list of structs, the raw column's JSON text (a raw file imports as it is), or no
    column at all; text that is no JSON is refused as any other wrong value."""
    link_id = link["campaign_link_id"]
    body = conversion(link_id, None)
    body["touches"] = [earlier(link_id, 4), own(body)]
    row = {**body, "converted_at": dt.datetime.now(dt.UTC).replace(tzinfo=None)}
    as_list = tmp_path / "list.parquet"
    pq.write_table(pa.Table.from_pylist([row]), as_list)
    as_text = tmp_path / "text.parquet"
    texts = [json.dumps(body["touches"]), "[{not json", None]
    pq.write_table(pa.Table.from_pylist([{**row, "touches": t} for t in texts]), as_text)
    without = tmp_path / "old.parquet"
    pq.write_table(
        pa.Table.from_pylist([{k: v for k, v in row.items() if k != "touches"}]), without
    )
    assert import_file(as_list, settings=settings).accepted == 1
    result = import_file(as_text, settings=settings)
    assert (result.accepted, [(p.row, p.code, p.field) for p in result.problems]) == (
        2,
        [(2, "invalid_touches", "touches")],
    )
    assert import_file(without, settings=settings).accepted == 1
    stored = [r["touches"] for r in read_stream(settings, "conversions")]
    assert sorted(stored, key=str) == sorted(
        [raw_schema.touches_json(body["touches"])] * 2 + [None] * 2, key=str
    )
    assert raw_schema.CONVERSIONS.field("touches").type == pa.string()
    assert raw_schema.CONVERSIONS.field("touches").nullable
