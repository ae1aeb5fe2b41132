"""townsquare: a self-hostable social community server with a real-time gateway."""

__version__ = "0.1.0"
