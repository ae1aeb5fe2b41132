"""Notifications: in-app, Web Push and email, with preferences, grouping and digests."""
