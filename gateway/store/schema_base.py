"""The one SQLAlchemy ``MetaData`` every table of the store belongs to (gateway.store.schema,
gateway.store.schema_network)."""

from sqlalchemy import MetaData

metadata = MetaData()
