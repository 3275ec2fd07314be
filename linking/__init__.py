"""Linking stage (report findings <-> masks/annotations): issue 4; its output contracts are schemas.FindingRecord and schemas.LinkRecord."""
