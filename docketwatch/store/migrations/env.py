"""Run by Alembic for every command: migrate the connection `alembic_config` hands in.

The connection is already inside the caller's transaction, so Alembic neither begins
nor commits; the caller commits the whole upgrade at once (or nothing of it).
"""

from alembic import context

context.configure(connection=context.config.attributes["connection"])
with context.begin_transaction():
    context.run_migrations()
