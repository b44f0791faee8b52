"""Raw event storage: the one interface the routes and the importer write through."""

from collector.storage.base import RawEventStore, StoreUnavailable
from collector.storage.log import LogRawEventStore
from collector.storage.parquet import ParquetRawEventStore
from convtrack.core.raw_log import UnstorableRow

__all__ = [
    "LogRawEventStore",
    "ParquetRawEventStore",
    "RawEventStore",
    "StoreUnavailable",
    "UnstorableRow",
]
