"""The plumbing behind the integration fixtures. Template-owned: `copier update`
improves these modules; put your own fixtures in tests/integration/conftest.py or
next to your tests instead of editing them.

Map, from a test down to the server:

    test            asks for fixtures (db_session, redis_client, amqp_channel, ...)
    fixtures        <service>/fixtures.py, sql/fixtures.py: layered service -> server
                    -> database -> session; registered by plugin.register()
    plugin.py       the run's life, hook by hook: markers.py marks the tests and says
                    which services they need; early_start.py starts those before
                    they ask; service_health.py says one message per unavailable or
                    lost service; summary.py the run's table at the end
    guest.py        runs only under tests/integration/pytest.ini; else stays out
    service_startup starts what is needed once per run (xdist workers share it;
                    a lock per service: a test waits for its own), releases it at
                    the end; sweep.py cleans up after dead runs
    forecast.py     a command's first run: what its tests need, read from their
                    source, so early_start.py starts them while pytest collects
    readiness.py    waiting for a service's answer against a deadline
                    (port_protocol.py: a URL at another service's port)
    providers/      where a service comes from: external URL, testcontainers,
                    compose, embedded wheel (selection.py picks one per service)
    <service>/      service.py: how to reach, probe, start and clean one service;
                    sql/ holds what every SQL database shares (dialect.py: the rest)
    run_state.py    the run's shared folder: endpoints, what was made, who owns it;
                    janitor.py removes containers of a run whose process is gone
    in_flight.py    the short report of a test whose service stopped answering
    host_plugins.py pytest plugins your environment loads that are not the suite's
    settings.py     every option and its IT_* environment twin; errors.py the causes
    deprecated.py   old names that still work for a release, and warn

From a test's db_session to its Session, every step is a fixture or a call that
go-to-definition follows, in four files:

    sql/fixtures.py    db_session -> isolated_database -> database_target ->
                       sql_layers.target(database_service): SqlLayers makes the
                       server, this worker's database and its Engine, once each
    sql/server.py      DatabaseServer: guarded admin access; engine_for()
    sql/databases.py   worker_database(): this worker's clone of the template
    sql/isolation.py   isolated(): Sessions joined to the test's transaction
                       (rollback), or committing on their own (delete, fresh)
"""
