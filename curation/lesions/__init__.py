"""The lesions stage: group the marks and masks that show one lesion of a study into one lesion row."""
