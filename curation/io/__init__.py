"""Table I/O and shared plumbing: Parquet writer, DuckDB views, partitions, reasoned errors."""
