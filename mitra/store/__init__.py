"""PostgreSQL: the schema (models.py), migrations, the embedded server, connections."""
