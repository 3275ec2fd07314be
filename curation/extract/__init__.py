"""The extract stage: archive index, PACS sources, GSPS/SR marks and report text -> tables."""
