"""Storage for the gateway: SQLAlchemy Core tables, engine set-up, migrations check.

SQLite (WAL) is the embedded default; PostgreSQL is reached through a database URL.
Times are stored as integer microseconds since the Unix epoch (UTC) on every backend.
"""
