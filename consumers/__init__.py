"""Inbound side and composition root: FastStream subscribers, message schemas, the CLI."""
