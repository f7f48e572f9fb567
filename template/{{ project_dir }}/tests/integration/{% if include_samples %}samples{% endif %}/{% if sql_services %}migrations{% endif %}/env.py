"""env.py of the samples' history, written the way tests need it.

It migrates the connection it is handed in config.attributes["connection"] (Alembic's
cookbook: "Sharing a Connection across one or more programmatic migration commands")
and builds its own from sqlalchemy.url only when none is given (the command line).
The harness then keeps every migration on the test database.

No logging.config.fileConfig() here: run inside pytest, it would switch off the
loggers pytest captures.
"""

from __future__ import annotations

from alembic import context
from sqlalchemy import Connection, MetaData, engine_from_config, pool

config = context.config
# Your env.py imports your models (`from myapp.models import Base`, then
# Base.metadata). The sample tests hand theirs in, like the connection.
target_metadata: MetaData | None = config.attributes.get("target_metadata")


def run_migrations(connection: Connection) -> None:
    context.configure(connection=connection, target_metadata=target_metadata)
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    given: Connection | None = config.attributes.get("connection")
    if given is not None:
        run_migrations(given)
        return
    settings = config.get_section(config.config_ini_section, {})
    engine = engine_from_config(settings, prefix="sqlalchemy.", poolclass=pool.NullPool)
    with engine.connect() as connection:
        run_migrations(connection)


def run_migrations_offline() -> None:
    """`alembic upgrade --sql`: the SQL, printed, no database needed."""
    url = config.get_main_option("sqlalchemy.url")
    context.configure(url=url, target_metadata=target_metadata, literal_binds=True)
    with context.begin_transaction():
        context.run_migrations()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
