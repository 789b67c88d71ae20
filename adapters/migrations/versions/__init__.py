"""Alembic revisions of the casework schema, oldest first (0001 ... head)."""
