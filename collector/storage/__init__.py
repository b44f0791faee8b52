"""Raw event storage: the one interface the routes and the importer write through."""

from collector.storage.base import RawEventStore, StoreUnavailable
from collector.storage.parquet import ParquetRawEventStore

__all__ = ["ParquetRawEventStore", "RawEventStore", "StoreUnavailable"]
