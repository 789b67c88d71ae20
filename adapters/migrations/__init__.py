"""The Alembic environment of the casework schema (env.py, versions/), shipped inside the package.

It is run in code, never from an alembic.ini: `adapters.schema.migrate(engine)` builds the Config
(`script_location` is this folder) and passes its connection in. A schema change is a new file in
versions/ whose `down_revision` is the latest one; a released revision is never edited.
"""
