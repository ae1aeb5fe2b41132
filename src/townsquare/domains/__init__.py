"""Feature domains; each uses the same file names (router, handlers, actions, queries, ...)."""
