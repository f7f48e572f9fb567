"""RabbitMQ: the service, and exchanges/queues named uniquely per test."""
