"""The home feed: ranking, preferences, interactions, live feed, trending and statistics."""
