"""Alembic migrations of the task store, shipped in the package so `huajia serve` can run them."""
