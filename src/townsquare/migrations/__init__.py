"""Alembic migrations, shipped inside the package so `townsquare migrate` works anywhere."""
