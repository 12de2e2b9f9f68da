"""Alembic environment of the sample application that test_alembic.py migrates: online mode on
the URL the test puts in the config, offline (--sql) mode for `alembic upgrade --sql`. Compares
server defaults too, so `alembic check` notices a default that the database does not keep."""
import os
import sys

from alembic import context
from sqlalchemy import create_engine, pool

sys.path.insert(0, os.path.dirname(__file__))
from models import Base  # noqa: E402  (the application's models, next to this file)

config = context.config
# A program driving Alembic may pass other models (test_alembic.py does, to autogenerate).
OPTIONS = dict(target_metadata=config.attributes.get("target_metadata", Base.metadata), compare_type=True, compare_server_default=True)

if context.is_offline_mode():
    context.configure(url=config.get_main_option("sqlalchemy.url"), literal_binds=True, **OPTIONS)
    with context.begin_transaction():
        context.run_migrations()
else:
    engine = create_engine(config.get_main_option("sqlalchemy.url"), poolclass=pool.NullPool)
    with engine.connect() as connection:
        context.configure(connection=connection, **OPTIONS)
        with context.begin_transaction():
            context.run_migrations()
    engine.dispose()
