"""Search over posts and users, and hashtag pages."""
