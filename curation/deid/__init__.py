"""De-identification before publishing: keyed pseudonyms for every key, dicognito for DICOM-derived fields
(one secret-seeded mapping per patient, so references and date shifts stay consistent), and scrubbed free
text (GSPS/SR labels, reports) with dates moved by the same per-patient offset."""
