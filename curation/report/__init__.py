"""The QC report stage: static HTML pages and overlay pictures."""
