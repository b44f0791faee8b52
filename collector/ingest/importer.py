"""Import historical clicks, conversions or refunds through the same rules as the API,
vectorised.

Used by `POST /api/admin/import` and by `convtrack import FILE`. Rows keep their own
`clicked_at` / `converted_at` / `refunded_at`, within the accepted range
(`times.EventTimeRange`); the attribution window is checked against that time, not now.
A refund without a time was refunded when it is received, as through the API. Good rows are written even
when others are refused; each refusal is reported with its row number, code, field and
message.

Files are read in batches of `BATCH_ROWS` rows, each validated before the next is read,
and accepted rows are written whenever `WRITE_BUFFER_BYTES` of them wait: memory follows
the batch and the buffer, not the file. A file's rows are numbered as in the file
(Parquet rows from 1, JSON lines by line) across batches.
"""

from __future__ import annotations

import datetime as dt
import itertools
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any, BinaryIO, Protocol

import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq

from collector.clock import utc_now
from collector.ingest.event_ids import deterministic_ids, identity_key
from collector.ingest.times import EventTimeRange, epoch_micros
from collector.jsontext import compact_json, parse_json, parse_json_lines
from collector.links import own_windows, read_links
from collector.privacy import truncate_ips
from collector.storage import ParquetRawEventStore, RawEventStore
from collector.validation.columns import (
    CLICK_FIELDS,
    CONVERSION_FIELDS,
    REFUND_FIELDS,
    ensure_fields,
    rows_to_frame,
    touches_column,
)
from collector.validation.problems import MESSAGES, Problem
from collector.validation.rules import (
    MAX_BODY_BYTES,
    MAX_EVENT_TIME_AHEAD,
    MAX_REFERRER_CHARS,
    MAX_USER_AGENT_CHARS,
    UUID_RE,
)
from collector.validation.scalar import check_touches
from collector.validation.vectorised import (
    Check,
    click_checks,
    conversion_checks,
    refund_checks,
)
from convtrack.core.raw_schema import EVENT_TIME, SCHEMAS, touches_json
from convtrack.core.settings import Settings

FIELDS: dict[str, dict[str, Callable[[Any], Any]]] = {
    "clicks": CLICK_FIELDS,
    "conversions": CONVERSION_FIELDS,
    "refunds": REFUND_FIELDS,
}
IMPORTABLE = tuple(FIELDS)
# Streams whose rows may leave their time out: it is then the time they are received
# (docs/rules.md#refunds). The others' time is required.
TIME_OPTIONAL = frozenset({"refunds"})
# Money columns: read from Parquet numbers as from JSON numbers.
MONEY_FIELDS = frozenset({"revenue_amount", "amount"})

# Rows per batch of a file. Peak memory per row of a batch was measured at about 2 KB
# (Parquet clicks) to 4.5 KB (JSON lines conversions, as Python objects): a batch costs
# on the order of 100 MB whatever the file's size.
BATCH_ROWS = 25_000
# Accepted rows wait for this many bytes (as Arrow) before they are written.
WRITE_BUFFER_BYTES = 64 * 1024 * 1024
# A file import reports this many refusals row by row, and counts all of them by code.
MAX_REPORTED_PROBLEMS = 1000
# A JSON line longer than one API request may be holds no acceptable event: it is refused
# without being read whole.
MAX_LINE_BYTES = MAX_BODY_BYTES

# Why a row has no fields to check (`_row_error`), in the words people read.
ROW_ERRORS = {
    "not_object": "this row is not a JSON object",
    "too_long": f"this line is longer than {MAX_LINE_BYTES // 1024} KB, more than one event takes",
}


@dataclass(frozen=True, slots=True)
class RowProblem:
    """Why row `row` (1-based: line of a JSON lines file, index + 1 of a list) was refused."""

    row: int
    code: str
    field: str | None
    message: str


@dataclass(slots=True)
class ImportResult:
    """Counts, refusals and the event id of every accepted row.

    `problems` holds every refusal of a request, and the first `MAX_REPORTED_PROBLEMS` of
    a file; `problem_counts` counts them all by code. `accepted_ids` is kept for requests
    (and for files when asked): for a file of millions of rows it would be the file again.
    """

    stream: str
    accepted: int = 0
    rejected: int = 0
    problems: list[RowProblem] = field(default_factory=list)
    problem_counts: Counter[str] = field(default_factory=Counter)
    # (row number, event_id) of each accepted row.
    accepted_ids: list[tuple[int, str]] = field(default_factory=list)

    def add(self, part: ImportResult) -> None:
        """Fold in the result of the next batch of the same import."""
        self.accepted += part.accepted
        self.rejected += part.rejected
        self.problems += part.problems
        self.problem_counts += part.problem_counts
        self.accepted_ids += part.accepted_ids

    def summary(self) -> str:
        lines = [f"{self.stream}: {self.accepted} accepted, {self.rejected} rejected"]
        if self.problem_counts:
            counts = ", ".join(f"{code} {n}" for code, n in self.problem_counts.most_common())
            lines.append(f"  problems by code: {counts}")
        shown = self.problems[:20]
        lines += [f"  row {p.row}: {p.code} ({p.field or 'row'}): {p.message}" for p in shown]
        more = self.problem_counts.total() - len(shown)
        if more > 0:
            lines.append(f"  ... and {more} more problems")
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
            "cannot tell whether this is clicks (a clicked_at column), conversions "
            "(a converted_at column) or refunds (a refunded_at column); name the stream "
            "explicitly"
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
    link_windows: Mapping[str, int] | None = None,
) -> ImportResult:
    """Validate and store JSON rows (dicts as parsed from a request or a JSON line);
    `link_windows`: the links with their own attribution window (id -> days)."""
    _check_stream(stream)
    frame = _json_frame(range(1, len(rows) + 1), rows, [None] * len(rows), stream)
    return import_frame(
        frame,
        stream,
        settings=settings,
        link_ids=link_ids,
        store=store,
        now=now,
        link_windows=link_windows,
    )


def import_file(
    path: Path,
    stream: str | None = None,
    *,
    settings: Settings,
    store: RawEventStore | None = None,
    now: dt.datetime | None = None,
    batch_rows: int = BATCH_ROWS,
    keep_ids: bool = False,
) -> ImportResult:
    """Import a JSON lines or Parquet file, batch by batch; links come from the raw files.

    Raises ValueError when the file cannot be read or its stream cannot be told (rows of
    batches already read stay imported; the message says how many).
    """
    path = Path(path)
    links = read_links(settings.raw_dir)
    link_ids = frozenset(links)
    link_windows = own_windows(links)
    store = store or ParquetRawEventStore(settings.raw_dir)
    # One clock for the whole file: every batch accepts the same range of event times.
    now = now or utc_now()
    if path.suffix.lower() == ".parquet":
        stream, frames = _parquet_frames(path, stream, batch_rows)
    else:
        stream, frames = _json_lines_frames(path, stream, batch_rows)
    result = ImportResult(stream)
    writes = _BufferedWrites(store, WRITE_BUFFER_BYTES)
    try:
        while True:
            try:
                frame = next(frames, None)
            except ValueError as exc:
                done = result.accepted + result.rejected
                raise ValueError(f"{exc} (after {done} rows, which are imported)") from exc
            if frame is None:
                return result
            part = import_frame(
                frame,
                stream,
                settings=settings,
                link_ids=link_ids,
                store=writes,
                now=now,
                link_windows=link_windows,
                max_problems=MAX_REPORTED_PROBLEMS - len(result.problems),
                keep_ids=keep_ids,
            )
            result.add(part)
            del frame, part  # before the next batch is read
    finally:
        writes.flush()


class TableSink(Protocol):
    """Where accepted rows go: the raw event store, or a buffer in front of it."""

    def write_table(self, stream: str, table: pa.Table) -> None: ...


class _BufferedWrites:
    """Accepted rows of consecutive batches, written together once they reach `max_bytes`.

    The store writes a file per day per write: buffered, a file of rows in random time
    order makes a file per day per buffer, not per batch, and batches can stay small.
    """

    def __init__(self, store: TableSink, max_bytes: int) -> None:
        self._store = store
        self._max_bytes = max_bytes
        self._tables: dict[str, list[pa.Table]] = defaultdict(list)
        self._bytes = 0

    def write_table(self, stream: str, table: pa.Table) -> None:
        self._tables[stream].append(table)
        self._bytes += table.nbytes
        if self._bytes >= self._max_bytes:
            self.flush()

    def flush(self) -> None:
        tables, self._tables, self._bytes = self._tables, defaultdict(list), 0
        for stream, parts in tables.items():
            self._store.write_table(stream, pa.concat_tables(parts))


# ---- JSON: request bodies and JSON lines files ----------------------------------------


def _json_frame(
    numbers: Iterable[int], rows: Sequence[Any], errors: Sequence[str | None], stream: str
) -> pl.DataFrame:
    """Text columns of JSON rows; `errors[i]` says why row i has no fields (else None)."""
    row_errors = [
        e if e is not None or isinstance(r, dict) else "not_object"
        for r, e in zip(rows, errors, strict=True)
    ]
    frame = rows_to_frame(rows, FIELDS[stream])
    if stream == "conversions":
        frame = frame.with_columns(touches_column(rows))
    return frame.with_columns(
        pl.Series("_row", list(numbers), dtype=pl.Int64),
        pl.Series("_row_error", row_errors, dtype=pl.String),
    )


def _json_lines_frames(
    path: Path, stream: str | None, batch_rows: int
) -> tuple[str, Iterator[pl.DataFrame]]:
    f = open(path, "rb")  # noqa: SIM115 - closed by the generator below when it ends
    chunks = _json_line_chunks(f, batch_rows)
    first = next(chunks, None)
    if stream is None:
        sample = first[1][:1000] if first else []
        try:
            stream = detect_stream(k for r in sample if isinstance(r, dict) for k in r)
        except ValueError:
            f.close()
            raise
    _check_stream(stream)
    remaining = itertools.chain([first] if first else [], chunks)

    def frames() -> Iterator[pl.DataFrame]:
        with f:
            for chunk in remaining:
                frame = _json_frame(*chunk, stream)
                del chunk  # the parsed rows are in the frame now: one batch at a time
                yield frame

    return stream, frames()


def _json_line_chunks(
    f: BinaryIO, batch_rows: int
) -> Iterator[tuple[list[int], list[Any], list[str | None]]]:
    """(line numbers, parsed rows, row errors) of up to `batch_rows` non-blank lines."""
    numbers: list[int] = []
    lines: list[bytes | None] = []
    for first, block in _line_blocks(f):
        kept = [(n, line) for n, line in enumerate(block, first) if line is None or line.strip()]
        numbers += [n for n, _ in kept]
        lines += [line for _, line in kept]
        while len(lines) >= batch_rows:
            yield _parsed_lines(numbers[:batch_rows], lines[:batch_rows])
            del numbers[:batch_rows], lines[:batch_rows]
    if lines:
        yield _parsed_lines(numbers, lines)


def _parsed_lines(
    numbers: list[int], lines: list[bytes | None]
) -> tuple[list[int], list[Any], list[str | None]]:
    # A line that is not JSON is reported as a row that is not a JSON object.
    rows = parse_json_lines([b"" if line is None else line for line in lines])
    errors = [None if line is not None else "too_long" for line in lines]
    return numbers, rows, errors


# Bytes read at a time from a JSON lines file: far more than a line, far less than a file.
READ_BYTES = 1024 * 1024


def _line_blocks(f: BinaryIO) -> Iterator[tuple[int, list[bytes | None]]]:
    """The file's lines, a block at a time, each block with the number of its first line.

    A line is given without its newline, or as None when it is too long: MAX_LINE_BYTES
    or more with its newline (more, for a last line without one). A too-long line is
    never held whole: it is dropped once it is known to be too long, and skipped to its end.
    """
    number = 1
    rest = b""  # the start of a line whose end is not read yet
    skipping = False  # inside a too-long line, already given as None
    while block := f.read(READ_BYTES):
        if skipping:
            end = block.find(b"\n")
            if end < 0:
                continue
            block, skipping = block[end + 1 :], False
        parts = (rest + block).split(b"\n")
        rest = parts.pop()
        lines: list[bytes | None] = [None if len(p) >= MAX_LINE_BYTES else p for p in parts]
        if len(rest) > MAX_LINE_BYTES:
            lines.append(None)
            rest, skipping = b"", True
        yield number, lines
        number += len(lines)
    if rest:
        yield number, [None if len(rest) > MAX_LINE_BYTES else rest]


# ---- Parquet ---------------------------------------------------------------------------


def _parquet_frames(
    path: Path, stream: str | None, batch_rows: int
) -> tuple[str, Iterator[pl.DataFrame]]:
    try:
        reader = pq.ParquetFile(path)
        names = reader.schema_arrow.names
    except Exception as exc:  # pyarrow raises several kinds for a bad file
        raise ValueError(f"not a readable Parquet file: {exc}") from exc
    stream = stream or detect_stream(names)
    _check_stream(stream)
    # Only the columns an import reads are decoded.
    columns = [name for name in [*FIELDS[stream], "touches"] if name in names]

    def frames() -> Iterator[pl.DataFrame]:
        first_row = 1
        with reader:
            # Row group by row group: a damaged one stops the import where it lies.
            for group in range(reader.num_row_groups):
                batches = reader.iter_batches(
                    batch_size=batch_rows, row_groups=[group], columns=columns
                )
                while True:
                    try:
                        batch = next(batches, None)
                        if batch is None:
                            break
                        df = pl.from_arrow(pa.Table.from_batches([batch]))
                    except Exception as exc:  # pyarrow and polars raise several kinds
                        raise ValueError(f"cannot read {path.name}: {exc}") from exc
                    assert isinstance(df, pl.DataFrame)
                    yield _parquet_to_text(df, stream, first_row)
                    first_row += df.height

    return stream, frames()


def _event_data_text(value: str) -> str | None:
    try:
        parsed = parse_json(value)
    except (ValueError, RecursionError):
        return None
    return compact_json(parsed) if isinstance(parsed, dict) else None


def _plain_number(text: str) -> str:
    try:
        return format(Decimal(text), "f")
    except InvalidOperation:
        return text


def _float_text(df: pl.DataFrame, name: str) -> pl.Series:
    """A float column as the decimal text its writer meant.

    Polars writes each float as the shortest text that reads back as the same value (as
    `repr` does; a Float32 as its own shortest text), switching to an exponent for the
    very large and the very small. Those few are spelt out through Decimal, one per
    distinct value: a float has at most 309 integer digits, so that stays cheap.
    """
    text = df[name].cast(pl.String)
    scientific = text.filter(text.str.contains("e", literal=True)).unique()
    if scientific.is_empty():
        return text
    return text.replace(scientific, scientific.map_elements(_plain_number, pl.String))


_TEXT_TYPES = (pl.String, pl.Categorical, pl.Enum, pl.Null)


def _text_column(df: pl.DataFrame, name: str) -> tuple[pl.Expr, pl.Expr]:
    """(text, bad) for one typed column: the JSON path's type rules, per Parquet type."""
    dtype = df.schema[name]
    col = pl.col(name)
    if isinstance(dtype, _TEXT_TYPES):
        if name == "event_data" and not isinstance(dtype, pl.Null):
            # Re-encoded once per distinct value: exports repeat a few shapes of metadata.
            values = df[name].cast(pl.String)
            distinct = values.drop_nulls().unique()
            texts = distinct.map_elements(_event_data_text, pl.String, skip_nulls=False)
            text = pl.lit(values.replace_strict(distinct, texts, default=None))
            return text, col.is_not_null() & text.is_null()
        return col.cast(pl.String), pl.lit(False)
    if name in MONEY_FIELDS and dtype.is_float():
        return pl.lit(_float_text(df, name)), pl.lit(False)
    if (name in MONEY_FIELDS and (dtype.is_integer() or dtype.is_decimal())) or (
        name == "order_id" and dtype.is_integer()
    ):
        return col.cast(pl.String), pl.lit(False)
    if name == "event_data" and isinstance(dtype, pl.Struct):
        return col.struct.json_encode(), pl.lit(False)
    # Any other type is one the field can never take (a number where a UUID belongs, ...).
    return pl.lit(None, dtype=pl.String), col.is_not_null()


def _parquet_touches(df: pl.DataFrame) -> list[pl.Series | pl.Expr]:
    """(touches, _bad_touches) of a Parquet `touches` column, as the JSON path gives them:
    a list column's values as lists, a text column's as the JSON each holds (the raw
    column's own form, `raw_schema.touches_json`); text that is no JSON, and a column of
    any other type, is bad where not null."""
    dtype = df.schema["touches"]
    if isinstance(dtype, pl.List):
        values = df["touches"].to_list()
    elif dtype == pl.String:
        values = [None if v is None else _json_or_bad(v) for v in df["touches"].to_list()]
    else:
        return [
            pl.lit(None, dtype=pl.String).alias("touches"),
            pl.col("touches").is_not_null().alias("_bad_touches"),
        ]
    return list(touches_column({"touches": v} for v in values))


def _json_or_bad(text: str) -> Any:
    """The JSON value `text` holds, or `_NOT_A_LIST` when it holds none."""
    try:
        return parse_json(text)
    except (ValueError, RecursionError):
        return _NOT_A_LIST


def _parquet_to_text(df: pl.DataFrame, stream: str, first_row: int) -> pl.DataFrame:
    """Typed Parquet columns as the validators' text columns (event time stays typed)."""
    columns = []
    for name in FIELDS[stream]:
        if name not in df.columns or name == EVENT_TIME[stream]:
            continue
        text, bad = _text_column(df, name)
        columns += [text.alias(name), bad.alias(f"_bad_{name}")]
    if stream == "conversions" and "touches" in df.columns:
        columns += _parquet_touches(df)
    return df.with_columns(columns).with_columns(
        pl.int_range(first_row, first_row + pl.len(), dtype=pl.Int64).alias("_row"),
        pl.lit(None, dtype=pl.String).alias("_row_error"),
    )


# ---- Validation and storage ------------------------------------------------------------


def import_frame(
    frame: pl.DataFrame,
    stream: str,
    *,
    settings: Settings,
    link_ids: Iterable[str],
    store: TableSink,
    now: dt.datetime | None = None,
    max_problems: int | None = None,
    keep_ids: bool = True,
    link_windows: Mapping[str, int] | None = None,
) -> ImportResult:
    """Validate a frame of text columns, write the good rows, report the bad ones.

    `frame` has `_row` (the row numbers reported) and `_row_error` (why a row has no
    fields, else null). At most `max_problems` refusals are reported row by row.
    """
    _check_stream(stream)
    now = now or utc_now()
    times = EventTimeRange.as_of(now)
    time_name = EVENT_TIME[stream]
    frame = ensure_fields(frame, FIELDS[stream])
    touch_problems: dict[int, list[Problem]] = {}
    if stream == "conversions":
        frame, touch_problems = _checked_touches(frame, now)
    frame = frame.with_columns(
        epoch_micros(frame, time_name).alias("_time_us"),
        pl.col(time_name).is_null().alias("_time_missing"),
    ).with_columns(
        # Only a time inside the range becomes a datetime (see times.py).
        pl.when(times.contains(pl.col("_time_us")))
        .then(pl.col("_time_us"))
        .cast(pl.Datetime("us"))
        .alias("_time")
    )
    unreadable = pl.col(f"_bad_{time_name}") | (
        ~pl.col("_time_missing") & pl.col("_time_us").is_null()
    )
    missing = pl.col("_time_missing") & ~pl.col(f"_bad_{time_name}")
    time_checks = [
        *([] if stream in TIME_OPTIONAL else [Check("missing_field", time_name, missing)]),
        Check("invalid_timestamp", time_name, unreadable),
        Check(
            "event_time_out_of_range",
            time_name,
            ~unreadable & pl.col("_time_us").is_not_null() & pl.col("_time").is_null(),
        ),
    ]
    if stream == "conversions":
        field_checks, _warnings = conversion_checks(
            link_ids=link_ids,
            currency=settings.currency,
            window_days=settings.attribution_window_days,
            event_time=pl.col("_time"),
            now=now,
            link_windows=link_windows,
        )
    elif stream == "refunds":
        field_checks = refund_checks(currency=settings.currency)
    else:
        field_checks = click_checks(link_ids=link_ids)
    # A row that is not an object has no fields to speak of: one problem is enough.
    has_fields = pl.col("_row_error").is_null()
    checks = [
        Check("invalid_body", None, ~has_fields),
        *(Check(c.code, c.field, has_fields & c.fired()) for c in [*time_checks, *field_checks]),
    ]
    if touch_problems:
        # Last, as in the scalar validator; its problems are the row's own (`touch_problems`).
        checks.append(
            Check(TOUCH_CHECK, None, has_fields & pl.col("_row").is_in(list(touch_problems)))
        )
    flags = [f"_check_{i}" for i in range(len(checks))]
    # Lazily: the rules share sub-expressions (a UUIDv7's time, an amount's digits) that
    # a lazy query computes once per batch, an eager one once per rule.
    frame = (
        frame.lazy()
        .with_columns(c.fired().alias(flag) for c, flag in zip(checks, flags, strict=True))
        .with_columns(~pl.any_horizontal(flags).alias("_ok"))
        .collect()
    )

    good = frame.filter(pl.col("_ok"))
    table = _raw_rows(good, stream, settings=settings, now=now)
    store.write_table(stream, table.to_arrow())

    bad = frame.filter(~pl.col("_ok"))
    counts = _problem_counts(bad, checks, flags, touch_problems)
    limit = counts.total() if max_problems is None else max(max_problems, 0)
    return ImportResult(
        stream=stream,
        accepted=good.height,
        rejected=bad.height,
        problems=_row_problems(
            bad, checks, flags, touch_problems, settings, times, limit, link_windows or {}
        ),
        problem_counts=counts,
        accepted_ids=(
            list(zip(good["_row"].to_list(), table["event_id"].to_list(), strict=True))
            if keep_ids
            else []
        ),
    )


# The check that a row's touches drew problems; they are listed per row, not as one code.
TOUCH_CHECK = "touches"
# A stand-in for a `touches` value of the wrong type: the scalar rule refuses any non-list.
_NOT_A_LIST = object()


def _checked_touches(
    frame: pl.DataFrame, now: dt.datetime
) -> tuple[pl.DataFrame, dict[int, list[Problem]]]:
    """`frame` with `_touches`, each conversion's normalised touches as the raw column
    holds them (`touches_json`), and the problems of
    the rows whose touches are refused, by row number.

    The scalar rules (`scalar.check_touches`) run on the rows that have touches: a list of
    small objects has no column shape to vectorise, and most rows have none.
    """
    if "touches" not in frame.columns:
        frame = frame.with_columns(
            pl.lit(None, dtype=pl.String).alias("touches"), pl.lit(False).alias("_bad_touches")
        )
    given = frame.filter(pl.col("touches").is_not_null() | pl.col("_bad_touches"))
    if given.is_empty():
        return frame.with_columns(pl.lit(None, dtype=pl.String).alias("_touches")), {}
    latest = now + MAX_EVENT_TIME_AHEAD
    problems: dict[int, list[Problem]] = {}
    normalised: dict[int, str | None] = {}
    columns = ("_row", "touches", "_bad_touches", "tracking_id", "campaign_link_id")
    for row, text, bad, tracking_id, link_id in given.select(columns).iter_rows():
        out: list[Problem] = []
        touches = check_touches(
            _NOT_A_LIST if bad else parse_json(text),
            tracking_id=_own_id(tracking_id),
            campaign_link_id=_own_id(link_id),
            latest=latest,
            out=out,
        )
        normalised[row] = touches_json(touches)
        if out:
            problems[row] = out
    texts = [normalised.get(row) for row in frame["_row"].to_list()]
    return frame.with_columns(pl.Series("_touches", texts, dtype=pl.String)), problems


def _own_id(text: str | None) -> str | None:
    """A conversion's own id as the scalar validator passes it to the touch rules."""
    return text.lower() if text is not None and UUID_RE.fullmatch(text) else None


def _raw_rows(good: pl.DataFrame, stream: str, *, settings: Settings, now: dt.datetime):
    """Accepted rows in the raw schema, with their event ids."""
    time_name = EVENT_TIME[stream]
    names = SCHEMAS[stream].names
    columns = {name: pl.col(name) for name in names}
    columns |= {
        c: pl.col(c).str.to_lowercase()
        for c in ("event_id", "tracking_id", "campaign_link_id")
        if c in names
    }
    columns |= {
        # A row that may leave its time out and did (the only null left) gets `now`.
        time_name: pl.col("_time").fill_null(pl.lit(now, dtype=pl.Datetime("us"))),
        "received_at": pl.lit(now, dtype=pl.Datetime("us")),
        "source": pl.lit("import"),
    }
    columns |= {m: pl.col(m).cast(pl.Decimal(10, 2)) for m in MONEY_FIELDS if m in names}
    if "currency" in names:
        columns["currency"] = pl.col("currency").str.to_uppercase().fill_null(settings.currency)
    if stream == "conversions":
        columns["touches"] = pl.col("_touches")
    elif stream == "clicks":
        columns["ip_address"] = truncate_ips(
            good["ip_address"], store_full_ip=settings.store_full_ip
        )
        # Cut like the redirect cuts its headers (rules.clip), by characters.
        columns["user_agent"] = pl.col("user_agent").str.slice(0, MAX_USER_AGENT_CHARS)
        columns["referrer"] = pl.col("referrer").str.slice(0, MAX_REFERRER_CHARS)
    base = good.lazy().select(expr.alias(name) for name, expr in columns.items()).collect()
    missing = base["event_id"].is_null()
    if missing.any():
        keys = base.filter(missing).select(identity_key(stream)).to_series()
        ids = base["event_id"].scatter(missing.arg_true(), deterministic_ids(keys))
        base = base.with_columns(ids.alias("event_id"))
    return base


def _problem_counts(
    bad: pl.DataFrame,
    checks: list[Check],
    flags: list[str],
    touch_problems: dict[int, list[Problem]],
) -> Counter[str]:
    counts: Counter[str] = Counter()
    for check, n in zip(checks, bad.select(pl.col(flags).sum()).row(0), strict=True):
        if n and check.code != TOUCH_CHECK:
            counts[check.code] += n
    if touch_problems:
        rows = bad.filter(pl.col("_row_error").is_null())["_row"].to_list()
        counts.update(p.code for row in rows for p in touch_problems.get(row, ()))
    return counts


def _row_problems(
    bad: pl.DataFrame,
    checks: list[Check],
    flags: list[str],
    touch_problems: dict[int, list[Problem]],
    settings: Settings,
    times: EventTimeRange,
    limit: int,
    link_windows: Mapping[str, int],
) -> list[RowProblem]:
    """The first `limit` problems of the refused rows, in row order, with their messages."""
    if bad.is_empty() or limit <= 0:
        return []
    values = {
        "currency": settings.currency,
        "window": settings.attribution_window_days,
        **times.describe(),
    }
    out: list[RowProblem] = []
    # Every refused row has at least one problem: `limit` rows are enough.
    # The window named in a refusal is the row's link's (docs/rules.md#windows-per-link).
    link = (
        pl.col("campaign_link_id").str.to_lowercase()
        if "campaign_link_id" in bad.columns
        else pl.lit(None, dtype=pl.String)
    )
    rows = bad.head(limit).select("_row", "_row_error", link.alias("_link"), *flags)
    for row, row_error, link_id, *fired in rows.iter_rows():
        values["window"] = link_windows.get(link_id, settings.attribution_window_days)
        for check, hit in zip(checks, fired, strict=True):
            if not hit:
                continue
            if check.code == TOUCH_CHECK:
                out += [RowProblem(row, p.code, p.field, p.message) for p in touch_problems[row]]
                continue
            if check.code == "invalid_body":
                message = ROW_ERRORS[row_error]
            else:
                message = MESSAGES[check.code].format(field=check.field, **values)
            out.append(RowProblem(row, check.code, check.field, message))
    return out[:limit]
