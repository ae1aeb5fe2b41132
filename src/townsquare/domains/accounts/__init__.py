"""Accounts: registration, login sessions, roles, audit log, profiles and privacy settings."""
