"""Integration tests: real PostgreSQL, Redis, RabbitMQ and HTTP servers, never mocks."""
