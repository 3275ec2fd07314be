"""DICOM helpers: fast header reads, SOP classes, CT volumes and their geometry, image lookup."""
