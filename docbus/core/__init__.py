"""docbus domain: entities, value objects, access rules, events, errors and ports.

Standard library only; nothing here knows about PostgreSQL, Valkey or RabbitMQ.
"""
