"""Presence: who is online, idle or offline, what they are doing, and who is told about it."""
