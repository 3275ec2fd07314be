"""Pipeline: stage declarations, planning, markers and the local/Ray executors."""
