"""Which stages of a pipeline must wait for which: the DAG the local executor overlaps stages on.

A stage waits for every earlier stage (in pipeline order) whose output it reads, that reads what it writes (it
must not clear or rewrite a table under a reader) or that writes the same table. Quarantine is the exception to
the last rule: every stage writes its own quarantine parts (named after the stage) and clears only those. Any
order of the stages that respects these edges leaves every table byte for byte as the sequential run does:
a stage's inputs are final when it starts (so its fingerprints and markers are the same), and no two stages
ever touch the same part file.
"""
from __future__ import annotations

from curation.io.stage import Stage, table_name

OWN_PARTS = frozenset({"quarantine"})   # tables each stage writes its own, separately named, parts of


def stage_reads(stage: Stage) -> set[str]:
    return {*stage.input_tables, *(table_name(t) for t in stage.optional_reads)}


def stage_dependencies(stages: list[Stage]) -> list[set[int]]:
    """deps[j]: the indices of the earlier stages stage j waits for."""
    deps: list[set[int]] = []
    for j, later in enumerate(stages):
        reads, writes = stage_reads(later), set(later.output_tables)
        deps.append({i for i, earlier in enumerate(stages[:j])
                     if reads & set(earlier.output_tables) or writes & stage_reads(earlier)
                     or (writes & set(earlier.output_tables)) - OWN_PARTS})
    return deps
