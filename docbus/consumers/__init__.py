"""Inbound side and composition root: subscribers, schemas, the pipeline and its error
table, the audit consumer, the topology; ``bootstrap`` (which builds the worker from
settings) and the worker it builds. The CLI is in ops/."""
