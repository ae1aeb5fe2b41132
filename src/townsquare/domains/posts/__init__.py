"""Posts and their interactions: media, tags, mentions, likes, comments, shares, views, reports."""
