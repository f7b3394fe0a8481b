"""Domain data: SQLAlchemy models, database sessions, demo seed."""
