"""Outbound adapters: PostgreSQL, Valkey, RabbitMQ publishing, and in-memory fakes."""
