"""The campaign link registry: the current version of every link, kept in memory.

The `campaign_links` raw stream is the record: each create or disable appends a new
version row, and the registry is rebuilt from those rows at start. Links written by
another process (another collector, another worker of `convtrack serve --workers N`, the
CLI) are picked up when a lookup misses, and versions of links already known (a link
disabled through another worker) within about a second of a redirect that finds one.
The files are read in a worker thread: the event loop goes on answering meanwhile.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import ipaddress
import logging
import re
import time
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from types import MappingProxyType
from urllib.parse import urlsplit

import pyarrow as pa
import pyarrow.parquet as pq
import uuid_utils

from collector.clock import utc_now
from collector.storage import RawEventStore
from collector.validation.rules import (
    MAX_ATTRIBUTION_WINDOW_DAYS,
    MAX_CAMPAIGN_NAME_CHARS,
    MAX_PLACEMENT_CHARS,
    MAX_URL_CHARS,
    MAX_VIDEO_ID_CHARS,
    is_unicode_text,
)
from convtrack.core.raw_schema import CAMPAIGN_LINKS
from convtrack.core.rules import retention_floor_days
from convtrack.core.settings import env_var

log = logging.getLogger(__name__)

STREAM = "campaign_links"
SHORT_CODE_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,63}")


class LinkError(ValueError):
    """A link request that cannot be honoured; `code` and `field` say why."""

    def __init__(self, code: str, field: str | None, message: str):
        super().__init__(message)
        self.code, self.field, self.message = code, field, message


@dataclass(frozen=True, slots=True)
class CampaignLink:
    """One version of a campaign link (a row of the `campaign_links` stream)."""

    campaign_link_id: str
    short_code: str
    destination_url: str
    campaign_name: str | None
    youtube_video_id: str | None
    placement: str | None
    created_at: dt.datetime
    disabled_at: dt.datetime | None
    recorded_at: dt.datetime
    # The link's own window in days; None: the default (docs/rules.md#windows-per-link).
    attribution_window_days: int | None = None

    @property
    def disabled(self) -> bool:
        return self.disabled_at is not None

    def row(self) -> dict:
        return asdict(self)


def check_short_code(code: str) -> None:
    if not SHORT_CODE_RE.fullmatch(code):
        raise LinkError(
            "invalid_short_code",
            "short_code",
            "short_code must be 1-64 letters, digits, '-' or '_', starting with a letter "
            "or digit, e.g. yt-launch-2026",
        )


# A host as a URL may carry it: DNS labels (after IDNA), an IPv4 address, or [IPv6].
_HOST_RE = re.compile(
    r"[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)*\.?"
)
_URL_EXAMPLE = "e.g. https://example.com/course"


def _url_problem(url: str) -> str | None:
    """Why `url` cannot be a link destination, or None when it can.

    Browsers and Python disagree on URLs with backslashes, user:password parts or odd
    ports (`https://good.example\\@evil.example/` is evil.example to one and
    good.example to the other), so anything ambiguous is refused rather than guessed.
    """
    if len(url) > MAX_URL_CHARS:
        return f"it is longer than {MAX_URL_CHARS} characters"
    if not is_unicode_text(url) or any(c.isspace() or not c.isprintable() for c in url):
        return "it holds spaces, control characters or lone surrogates"
    if "\\" in url:
        return "it holds a backslash"
    try:
        parts = urlsplit(url)
    except ValueError:
        return "its host cannot be read"
    try:
        port = parts.port
    except ValueError:
        return "its port is not between 1 and 65535"
    if parts.scheme not in ("http", "https"):
        return "it does not start with http:// or https://"
    if "@" in parts.netloc:
        return "it names a user or password before the host"
    if port is not None and not 0 < port <= 65535:
        return "its port is not between 1 and 65535"
    host = parts.hostname or ""
    if host.startswith("[") or ":" in host:
        try:
            ipaddress.IPv6Address(host.strip("[]"))
        except ValueError:
            return "its host is not a valid address"
        return None
    try:
        ascii_host = host.encode("idna").decode("ascii") if not host.isascii() else host
    except UnicodeError:
        return "its host is not a valid name"
    if not ascii_host or not _HOST_RE.fullmatch(ascii_host):
        return "its host is not a valid name"
    return None


def check_destination(url: str) -> None:
    if (problem := _url_problem(url)) is not None:
        raise LinkError(
            "invalid_url",
            "destination_url",
            f"destination_url cannot be a landing page: {problem} ({_URL_EXAMPLE})",
        )


def check_text(field: str, value: str | None, max_chars: int) -> None:
    """Free-text link fields: bounded, and storable (no lone surrogates)."""
    if value is not None and (len(value) > max_chars or not is_unicode_text(value)):
        raise LinkError(
            "invalid_text",
            field,
            f"{field} must be Unicode text of at most {max_chars} characters",
        )


def check_window(days: int | None, retention_days: int | None) -> None:
    """A link's own window: whole days from 1 to MAX_ATTRIBUTION_WINDOW_DAYS, and short
    enough for the configured retention to keep its clicks (docs/rules.md#retention)."""
    if days is None:
        return
    if isinstance(days, bool) or not isinstance(days, int):
        raise LinkError(
            "invalid_attribution_window",
            "attribution_window_days",
            f"attribution_window_days must be a whole number of days from 1 to "
            f"{MAX_ATTRIBUTION_WINDOW_DAYS}, or left out for the default window",
        )
    if not 1 <= days <= MAX_ATTRIBUTION_WINDOW_DAYS:
        raise LinkError(
            "invalid_attribution_window",
            "attribution_window_days",
            f"attribution_window_days must be from 1 to {MAX_ATTRIBUTION_WINDOW_DAYS} days "
            f"(got {days}), or left out for the default window",
        )
    if retention_days is not None and retention_floor_days(days) > retention_days:
        raise LinkError(
            "window_exceeds_retention",
            "attribution_window_days",
            f"attribution_window_days={days} needs retention of at least "
            f"{retention_floor_days(days)} days, but {env_var('retention_days')} keeps "
            f"{retention_days}: a conversion late in the window would find its click "
            "pruned; choose a shorter window or raise the retention first",
        )


def own_windows(links: Mapping[str, CampaignLink]) -> dict[str, int]:
    """The links that carry their own window, id -> days (docs/rules.md#windows-per-link)."""
    return {
        link_id: link.attribution_window_days
        for link_id, link in links.items()
        if link.attribution_window_days is not None
    }


def _files_signature(raw_dir: Path) -> frozenset[Path]:
    return frozenset((raw_dir / STREAM).glob("dt=*/*.parquet"))


def read_links(raw_dir: Path, files: frozenset[Path] | None = None) -> dict[str, CampaignLink]:
    """The latest version of each link in the raw `campaign_links` files (or in `files`)."""
    files = sorted(_files_signature(raw_dir) if files is None else files)
    if not files:
        return {}
    table = pa.concat_tables(pq.read_table(f, schema=CAMPAIGN_LINKS) for f in files)
    links: dict[str, CampaignLink] = {}
    for row in sorted(table.to_pylist(), key=lambda r: r["recorded_at"]):
        links[row["campaign_link_id"]] = CampaignLink(**row)
    return links


def _read_changed_links(
    raw_dir: Path, known: frozenset[Path] | None
) -> tuple[frozenset[Path], dict[str, CampaignLink] | None]:
    """The link files now, and the links in them; None for the links when the files are
    still `known` (pass None to read them whatever they are)."""
    files = _files_signature(raw_dir)
    if files == known:
        return files, None
    return files, read_links(raw_dir, files)


class LinkNotReadBack(RuntimeError):
    """A link version the store acknowledged is not in the files the registry reads."""


# A lookup that misses (an unknown id or short code, which any client can send) re-reads
# the links other processes wrote at most this often: never a directory scan per request.
MISS_REFRESH_INTERVAL_S = 1.0
# A short code found in memory answers at once, and starts a re-read in the background
# at most this often: a link disabled through another process stops redirecting here
# within about this long, and a busy redirect costs one directory listing a second.
HIT_REFRESH_INTERVAL_S = 1.0


class LinkRegistry:
    """Current links by id and by short code, persisted through the raw event store.

    Lookups are dictionary reads. The disk is read in a worker thread, never on the event
    loop: by `refresh()` (at start, and by admin operations, which see other processes'
    links at once) and by `refresh_after_miss()` when a lookup misses, at most once per
    `MISS_REFRESH_INTERVAL_S`; a miss waits for that re-read, so a link another process
    registered a moment ago is found, while other requests go on being answered.
    """

    def __init__(
        self, raw_dir: Path, store: RawEventStore, *, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self._raw_dir = Path(raw_dir)
        self._store = store
        self._clock = clock
        # Held from a short code's uniqueness check to its write.
        self._write_lock = asyncio.Lock()
        # One re-read at a time, so an older read never replaces a newer one.
        self._read_lock = asyncio.Lock()
        self._signature: frozenset[Path] | None = None  # None: never read
        self._reads = 0  # re-reads that changed something
        self._by_id: dict[str, CampaignLink] = {}
        self._by_code: dict[str, CampaignLink] = {}
        self._windows: Mapping[str, int] = MappingProxyType({})
        self._last_miss_refresh = float("-inf")
        self._last_hit_refresh = float("-inf")
        self._background: asyncio.Task[bool] | None = None

    async def refresh(self) -> bool:
        """Re-read the links now if any process wrote a new version; True when it did."""
        async with self._read_lock:
            return await self._reread(self._signature)

    async def refresh_after_miss(self) -> bool:
        """`refresh()`, at most once per `MISS_REFRESH_INTERVAL_S`; True when the links
        changed since the caller looked (by this re-read or one it waited for)."""
        reads_seen = self._reads
        async with self._read_lock:
            if self._reads != reads_seen:
                return True
            now = self._clock()
            if now - self._last_miss_refresh < MISS_REFRESH_INTERVAL_S:
                return False
            self._last_miss_refresh = now
            return await self._reread(self._signature)

    async def _reread(self, known: frozenset[Path] | None) -> bool:
        files, links = await asyncio.to_thread(_read_changed_links, self._raw_dir, known)
        if links is None:
            return False
        self._signature = files
        self._by_id = links
        self._by_code = {link.short_code: link for link in links.values()}
        self._windows = MappingProxyType(own_windows(links))
        self._reads += 1
        return True

    async def find_by_short_code(self, short_code: str) -> CampaignLink | None:
        """The link with this short code; a miss looks on disk once more (throttled)."""
        link = self._by_code.get(short_code)
        if link is None:
            if await self.refresh_after_miss():
                link = self._by_code.get(short_code)
        else:
            self._refresh_in_background()
        return link

    def _refresh_in_background(self) -> None:
        """`refresh()` without waiting for it, at most once per `HIT_REFRESH_INTERVAL_S`."""
        now = self._clock()
        if self._background is not None or now - self._last_hit_refresh < HIT_REFRESH_INTERVAL_S:
            return
        self._last_hit_refresh = now
        self._background = asyncio.get_running_loop().create_task(
            self.refresh(), name="links-refresh"
        )
        self._background.add_done_callback(self._background_done)

    def _background_done(self, task: asyncio.Task[bool]) -> None:
        self._background = None
        if not task.cancelled() and (exc := task.exception()) is not None:
            # The links in memory stay; the next hit or miss reads again.
            log.warning("could not re-read the campaign links: %s", exc)

    def __contains__(self, campaign_link_id: object) -> bool:
        """Whether the id is a link known now (memory only; see `refresh_after_miss`)."""
        return isinstance(campaign_link_id, str) and campaign_link_id in self._by_id

    def ids(self) -> list[str]:
        return list(self._by_id)

    def own_windows(self) -> Mapping[str, int]:
        """The links that carry their own window (memory only): id -> days."""
        return self._windows

    def all(self) -> list[CampaignLink]:
        return sorted(self._by_id.values(), key=lambda link: link.created_at)

    async def create(
        self,
        *,
        short_code: str,
        destination_url: str,
        campaign_name: str | None = None,
        youtube_video_id: str | None = None,
        placement: str | None = None,
        attribution_window_days: int | None = None,
        retention_days: int | None = None,
    ) -> CampaignLink:
        """Register a new link; LinkError on a bad or taken short code, a bad URL, or a
        window out of bounds or longer than `retention_days` keeps clicks."""
        check_short_code(short_code)
        check_destination(destination_url)
        check_text("campaign_name", campaign_name, MAX_CAMPAIGN_NAME_CHARS)
        check_text("youtube_video_id", youtube_video_id, MAX_VIDEO_ID_CHARS)
        check_text("placement", placement, MAX_PLACEMENT_CHARS)
        check_window(attribution_window_days, retention_days)
        async with self._write_lock:
            await self.refresh()  # another process may have taken the code a moment ago
            if short_code in self._by_code:
                raise LinkError(
                    "short_code_taken",
                    "short_code",
                    f"short_code {short_code!r} is already used by another link; pick another",
                )
            now = utc_now()
            link = CampaignLink(
                campaign_link_id=str(uuid_utils.uuid7()),
                short_code=short_code,
                destination_url=destination_url,
                campaign_name=campaign_name,
                youtube_video_id=youtube_video_id,
                placement=placement,
                created_at=now,
                disabled_at=None,
                recorded_at=now,
                attribution_window_days=attribution_window_days,
            )
            await self._record(link)
            return link

    async def set_disabled(self, campaign_link_id: str, disabled: bool) -> CampaignLink | None:
        """Record a new version with the link disabled (or enabled again); None if unknown."""
        async with self._write_lock:
            await self.refresh()
            current = self._by_id.get(campaign_link_id)
            if current is None:
                return None
            if current.disabled == disabled:
                return current
            now = utc_now()
            link = replace(current, disabled_at=now if disabled else None, recorded_at=now)
            await self._record(link)
            return link

    async def _record(self, link: CampaignLink) -> None:
        """Write a link version, then re-read the links rather than patch them: versions
        other processes wrote meanwhile come along."""
        await self._store.append(STREAM, [link.row()])
        async with self._read_lock:
            await self._reread(None)
        if self._by_id.get(link.campaign_link_id) != link:
            # The store writes this stream straight to Parquet (DIRECT_STREAMS), where
            # the registry reads; were that ever broken, say so rather than answer 201 for
            # a link that no redirect would find.
            raise LinkNotReadBack(
                f"campaign link {link.campaign_link_id} was stored but is not in "
                f"{self._raw_dir / STREAM} when read back"
            )
