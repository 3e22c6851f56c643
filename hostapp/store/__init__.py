"""SQLite store: one file, WAL, ordered atomic migrations with a backup before each upgrade."""

from hostapp.store.db import Store, StoreError

__all__ = ["Store", "StoreError"]
