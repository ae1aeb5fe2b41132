"""Admin: the job system's queue depths and dead letters, for operators repairing the queue."""
