"""Social graph: friendships, friend requests, follows, blocks and mutes."""
