"""Helpers shared by test folders: plain functions and classes; fixtures live in conftest."""
