"""Import historical clicks or conversions through the same rules as the API, vectorised.

Used by `POST /api/admin/import` and by `convtrack import FILE`. Rows keep their own
`clicked_at` / `converted_at`; the attribution window is checked against that time, not
now. Good rows are written even when others are refused; each refusal is reported with
its row number, code, field and message.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

import polars as pl

from collector.clock import utc_now
from collector.ingest.event_ids import deterministic_ids, identity_key
from collector.ingest.times import parse_utc
from collector.jsontext import compact_json, parse_json
from collector.links import read_links
from collector.privacy import truncate_ip
from collector.storage import ParquetRawEventStore, RawEventStore
from collector.validation.columns import (
    CLICK_FIELDS,
    CONVERSION_FIELDS,
    ensure_fields,
    rows_to_frame,
)
from collector.validation.problems import MESSAGES
from collector.validation.vectorised import (
    PROBLEM_LIST,
    click_rules,
    conversion_rules,
    problem_list,
)
from convtrack.raw_schema import EVENT_TIME, SCHEMAS
from convtrack.settings import Settings

FIELDS: dict[str, dict[str, Callable[[Any], Any]]] = {
    "clicks": CLICK_FIELDS,
    "conversions": CONVERSION_FIELDS,
}
IMPORTABLE = tuple(FIELDS)


@dataclass(frozen=True, slots=True)
class RowProblem:
    """Why row `row` (1-based: line of a JSON lines file, index + 1 of a list) was refused."""

    row: int
    code: str
    field: str | None
    message: str


@dataclass(slots=True)
class ImportResult:
    """Counts, refusals and the event id of every accepted row."""

    stream: str
    accepted: int
    rejected: int
    problems: list[RowProblem] = field(default_factory=list)
    # (row number, event_id) of each accepted row.
    accepted_ids: list[tuple[int, str]] = field(default_factory=list)

    def summary(self) -> str:
        lines = [f"{self.stream}: {self.accepted} accepted, {self.rejected} rejected"]
        shown = self.problems[:20]
        lines += [f"  row {p.row}: {p.code} ({p.field or 'row'}): {p.message}" for p in shown]
        if len(self.problems) > len(shown):
            lines.append(f"  ... and {len(self.problems) - len(shown)} more problems")
        return "\n".join(lines)

    def results(self) -> list[dict]:
        """One entry per row, in row order: accepted with its event_id, or rejected with why."""
        errors: dict[int, list[dict]] = defaultdict(list)
        for p in self.problems:
            errors[p.row].append({"code": p.code, "field": p.field, "message": p.message})
        out = [{"row": r, "status": "accepted", "event_id": e} for r, e in self.accepted_ids]
        out += [{"row": r, "status": "rejected", "errors": errs} for r, errs in errors.items()]
        return sorted(out, key=lambda item: item["row"])


def detect_stream(columns: Iterable[str]) -> str:
    """The stream a file holds, told by its event time column."""
    names = set(columns)
    found = [s for s in IMPORTABLE if EVENT_TIME[s] in names]
    if len(found) != 1:
        raise ValueError(
            "cannot tell whether this is clicks (a clicked_at column) or conversions "
            "(a converted_at column); name the stream explicitly"
        )
    return found[0]


def _check_stream(stream: str) -> None:
    if stream not in IMPORTABLE:
        raise ValueError(f"stream must be one of {', '.join(IMPORTABLE)}, not {stream!r}")


def import_rows(
    rows: Sequence[Any],
    stream: str,
    *,
    settings: Settings,
    link_ids: Iterable[str],
    store: RawEventStore,
    now: dt.datetime | None = None,
) -> ImportResult:
    """Validate and store JSON rows (dicts as parsed from a request or a JSON line)."""
    _check_stream(stream)
    frame = rows_to_frame(rows, FIELDS[stream]).with_columns(
        pl.Series("_row", range(1, len(rows) + 1), dtype=pl.Int64),
        pl.Series(
            "_row_error",
            [None if isinstance(r, dict) else "not_object" for r in rows],
            dtype=pl.String,
        ),
    )
    return import_frame(frame, stream, settings=settings, link_ids=link_ids, store=store, now=now)


def import_file(
    path: Path,
    stream: str | None = None,
    *,
    settings: Settings,
    store: RawEventStore | None = None,
    now: dt.datetime | None = None,
) -> ImportResult:
    """Import a JSON lines or Parquet file; links come from the raw files on disk.

    Raises ValueError when the file cannot be read or its stream cannot be told.
    """
    path = Path(path)
    link_ids = read_links(settings.raw_dir).keys()
    store = store or ParquetRawEventStore(settings.raw_dir)
    if path.suffix.lower() == ".parquet":
        frame = _read_parquet(path)
        stream = stream or detect_stream(frame.columns)
        _check_stream(stream)
        frame = _parquet_to_text(frame, stream)
        return import_frame(
            frame, stream, settings=settings, link_ids=link_ids, store=store, now=now
        )
    line_numbers, rows = _read_json_lines(path)
    if stream is None:
        stream = detect_stream(k for r in rows[:1000] if isinstance(r, dict) for k in r)
    result = import_rows(rows, stream, settings=settings, link_ids=link_ids, store=store, now=now)
    # Report file line numbers rather than positions among the non-blank lines.
    result.problems = [
        RowProblem(line_numbers[p.row - 1], p.code, p.field, p.message) for p in result.problems
    ]
    result.accepted_ids = [(line_numbers[r - 1], e) for r, e in result.accepted_ids]
    return result


def _read_json_lines(path: Path) -> tuple[list[int], list[Any]]:
    numbers, rows = [], []
    with open(path, "rb") as f:
        for number, line in enumerate(f, start=1):
            if not line.strip():
                continue
            try:
                rows.append(parse_json(line))
            except (ValueError, RecursionError):
                rows.append(None)  # reported as a row that is not a JSON object
            numbers.append(number)
    return numbers, rows


def _read_parquet(path: Path) -> pl.DataFrame:
    try:
        return pl.read_parquet(path)
    except Exception as exc:  # polars raises several kinds for a bad file
        raise ValueError(f"not a readable Parquet file: {exc}") from exc


def _event_data_text(value: str) -> str | None:
    try:
        parsed = parse_json(value)
    except (ValueError, RecursionError):
        return None
    return compact_json(parsed) if isinstance(parsed, dict) else None


def _parquet_to_text(df: pl.DataFrame, stream: str) -> pl.DataFrame:
    """Typed Parquet columns as the validators' text columns (event time stays typed)."""
    columns = []
    for name in FIELDS[stream]:
        if name not in df.columns or name == EVENT_TIME[stream]:
            continue
        dtype = df.schema[name]
        col = pl.col(name)
        bad = pl.lit(False)
        if name == "revenue_amount" and dtype.is_float():
            col = col.map_elements(lambda x: format(_decimal_of_float(x), "f"), pl.String)
        elif name == "event_data" and dtype == pl.String:
            text = col.map_elements(_event_data_text, pl.String, skip_nulls=True)
            bad = pl.col(name).is_not_null() & text.is_null()
            col = text
        elif isinstance(dtype, pl.Struct):
            col = col.struct.json_encode()
        elif dtype != pl.String:
            col = col.cast(pl.String)
        columns += [col.alias(name), bad.alias(f"_bad_{name}")]
    return df.with_columns(columns).with_columns(
        pl.int_range(1, pl.len() + 1, dtype=pl.Int64).alias("_row"),
        pl.lit(None, dtype=pl.String).alias("_row_error"),
    )


def _decimal_of_float(x: float) -> Decimal:
    # repr is the shortest text that reads back as the same float: what the writer meant.
    return Decimal(repr(x))


def import_frame(
    frame: pl.DataFrame,
    stream: str,
    *,
    settings: Settings,
    link_ids: Iterable[str],
    store: RawEventStore,
    now: dt.datetime | None = None,
) -> ImportResult:
    """Validate a frame of text columns, write the good rows, report the bad ones."""
    _check_stream(stream)
    now = now or utc_now()
    time_name = EVENT_TIME[stream]
    frame = ensure_fields(frame, FIELDS[stream])
    raw_time_dtype = frame.schema[time_name]
    frame = frame.with_columns(
        parse_utc(time_name, raw_time_dtype).alias("_time"),
        pl.col(time_name).is_null().alias("_time_missing"),
    )
    time_rules = [
        _rule("missing_field", time_name, pl.col("_time_missing") & ~pl.col(f"_bad_{time_name}")),
        _rule(
            "invalid_timestamp",
            time_name,
            pl.col(f"_bad_{time_name}") | (~pl.col("_time_missing") & pl.col("_time").is_null()),
        ),
    ]
    if stream == "conversions":
        rules, _warnings = conversion_rules(
            link_ids=link_ids,
            currency=settings.currency,
            window_days=settings.attribution_window_days,
            event_time=pl.col("_time"),
            now=now,
        )
    else:
        rules = click_rules(link_ids=link_ids)
    # A row that is not an object has no fields to speak of: one problem is enough.
    not_object = problem_list([_rule("invalid_body", None, pl.col("_row_error").is_not_null())])
    frame = frame.with_columns(
        pl.when(pl.col("_row_error").is_not_null())
        .then(not_object)
        .otherwise(pl.concat_list([problem_list(time_rules), rules]))
        .alias("_problems")
    ).with_columns((pl.col("_problems").list.len() == 0).alias("_ok"))

    good = frame.filter(pl.col("_ok"))
    table = _raw_rows(good, stream, settings=settings, now=now)
    store.write_table(stream, table.to_arrow())

    problems = _row_problems(frame.filter(~pl.col("_ok")), settings)
    return ImportResult(
        stream=stream,
        accepted=good.height,
        rejected=frame.height - good.height,
        problems=problems,
        accepted_ids=list(zip(good["_row"].to_list(), table["event_id"].to_list(), strict=True)),
    )


def _rule(code: str, field: str | None, condition: pl.Expr) -> pl.Expr:
    return pl.when(condition.fill_null(False)).then(
        pl.struct(code=pl.lit(code), field=pl.lit(field, dtype=pl.String))
    )


def _raw_rows(good: pl.DataFrame, stream: str, *, settings: Settings, now: dt.datetime):
    """Accepted rows in the raw schema, with their event ids."""
    lower = [pl.col(c).str.to_lowercase() for c in ("event_id", "tracking_id", "campaign_link_id")]
    time_name = EVENT_TIME[stream]
    base = good.with_columns(*lower, pl.col("_time").alias(time_name))
    if stream == "conversions":
        base = base.with_columns(
            pl.col("revenue_amount").cast(pl.Decimal(10, 2)),
            pl.col("currency").str.to_uppercase().fill_null(settings.currency),
        )
    else:
        base = base.with_columns(_truncated_ips(base["ip_address"], settings.store_full_ip))
    key = base.select(identity_key(stream).alias("key"))["key"]
    missing = base["event_id"].is_null()
    if missing.any():
        generated = deterministic_ids(key.filter(missing))
        ids = base["event_id"].scatter(missing.arg_true(), generated)
        base = base.with_columns(ids.alias("event_id"))
    base = base.with_columns(
        pl.lit(now, dtype=pl.Datetime("us")).alias("received_at"),
        pl.lit("import").alias("source"),
    )
    return base.select(SCHEMAS[stream].names)


def _truncated_ips(ips: pl.Series, store_full_ip: bool) -> pl.Series:
    # Few distinct addresses per import: map each once.
    mapping = {ip: truncate_ip(ip, store_full_ip=store_full_ip) for ip in ips.drop_nulls().unique()}
    return ips.replace_strict(mapping, default=None, return_dtype=pl.String).alias("ip_address")


def _row_problems(bad: pl.DataFrame, settings: Settings) -> list[RowProblem]:
    if bad.is_empty():
        return []
    exploded = bad.select("_row", pl.col("_problems").cast(PROBLEM_LIST)).explode("_problems")
    out = []
    for row, item in exploded.iter_rows():
        code, field = item["code"], item["field"]
        if code == "invalid_body":
            message = "this row is not a JSON object"
        else:
            message = MESSAGES[code].format(
                field=field, currency=settings.currency, window=settings.attribution_window_days
            )
        out.append(RowProblem(row, code, field, message))
    return out
