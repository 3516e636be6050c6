"""What the SQLite and PostgreSQL stores share where their logic is the same, not only the shape of their SQL.

Each core here is written once over a DB-API connection (:class:`~overcast.backends.sql.core.SqlStore`); a backend's
store class inherits its database base (``SqliteDatabase``, ``PostgresDatabase``) first and the core second, and
supplies the few hooks where the databases differ: the placeholder, and how a transaction that checks and then
writes begins (SQLite's ``BEGIN IMMEDIATE`` write lock, a PostgreSQL advisory lock on the name).
"""
