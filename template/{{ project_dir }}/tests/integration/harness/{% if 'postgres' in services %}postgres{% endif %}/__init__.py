"""PostgreSQL: the service, per-worker databases, isolation strategies and fixtures."""
