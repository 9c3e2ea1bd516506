"""Operator tools: the docbus command line, demo, dead-letter tools, AsyncAPI builder."""
