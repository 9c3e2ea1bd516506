"""Alembic migrations (a package so that env.py ships with the installed service)."""
