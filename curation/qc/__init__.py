"""The QC stage: per-mask metrics and pass/fail verdicts."""
