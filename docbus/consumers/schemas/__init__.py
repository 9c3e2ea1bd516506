"""Message bodies of contract versions 1 and 2 as pydantic models, in three modules:

- ``fields``: strict JSON (``load_json``) and the field types every message shares;
- ``inbound``: one model per command and query (``INBOUND``), validated strictly and
  turned into the use cases' commands; ``AuditEventIn`` for the audit consumer;
- ``outbound``: replies and events (``REPLY_DATA``, ``EVENTS``), for the AsyncAPI document
  and the drift tests.

A new message adds its model to ``inbound`` (and its reply or event to ``outbound`` if
the shape is new): docs/adding-a-command.md.
"""
