"""The SQL core: what every SQL database of the suite shares, written once.

    dialect.py        SqlDialect: the few things each database does its own way
    server.py         DatabaseServer: guarded admin access (create, clone, drop)
    databases.py      the run's template database and each worker's clone of it
    isolation.py      rollback / delete / fresh around one test (sync and async)
    fixtures.py       db_session, db_engine, db_isolation, ...: the fixtures tests use,
                      and SqlLayers: each service's server, database, Engine per worker
    services.py       the suite's SQL services and their dialects (generated)
    schema_source.py  where the schema comes from: SQLAlchemy metadata or Alembic
    migrations.py     running Alembic only against the test database
    migration_checks.py  one head, up from empty, round trip, models match migrations
    factories.py      factory-boy bound to the test's session
    safety.py         never touch a database that is not plainly a test target
    deadlines.py      every call to the database ends within IT_CALL_TIMEOUT

A database (postgres/, mysql/) supplies a dialect and its `<name>_*` fixtures, which
name SqlLayers' objects.
"""
