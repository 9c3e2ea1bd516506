"""docbus, the worker: the message-driven document service.

Hexagonal: core (entities, rules, ports; the standard library only), handlers (use
cases), adapters (PostgreSQL, Valkey, RabbitMQ, fakes), consumers (the inbound side and
the composition root), ops (the command line), devtools (the embedded Valkey for
development). The Python client is a distribution of its own, docbus-client
(package docbus_client, in client/).
"""
