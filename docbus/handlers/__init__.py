"""Use cases: one module per command or query. They depend on core alone."""
