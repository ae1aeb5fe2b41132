"""Chat: direct, group, team and public rooms with messages, receipts and search."""
