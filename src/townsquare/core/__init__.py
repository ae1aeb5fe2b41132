"""Cross-cutting building blocks; nothing here imports a domain."""
