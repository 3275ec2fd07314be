"""The publish stage: Hugging Face dataset folder, dataset card, DICOM SEG export."""
