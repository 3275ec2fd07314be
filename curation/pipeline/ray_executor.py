"""The same stages on Ray Data, for many machines and GPUs.

Stages still run in order (each reads the tables the previous one wrote, on a shared filesystem); inside a
stage the partitions are a Ray Dataset: CPU stages map them as tasks, stages that hold a model (a setup hook that
loads one, or GPUs in their resources, i.e. segmentation) map them with an actor pool, so the model is loaded once
per actor and each actor gets `num_gpus`. Planning, completion markers and resume are the local executor's, so
both executors write the same tables and a killed Ray run resumes from the same markers.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Optional

from curation.io.partition import Partition
from curation.io.stage import Stage, has_setup
from curation.pipeline.base import LocalExecutor, run_partition


@dataclass
class RayConfig:
    address: Optional[str] = None      # None: start a local Ray; "auto" or "ray://host:10001" for a cluster
    num_cpus: Optional[int] = None     # for a local Ray
    actors: int = 1                    # actor-pool size for model stages (one model copy each)
    batch_size: int = 1                # shards per call; a shard is already many studies


class _ModelActor:
    """Holds a stage's model (its setup) for every partition the pool sends it."""

    def __init__(self, stage: Stage, out: str, key: dict):
        self.stage, self.out, self.key = stage, Path(out), key
        stage.setup()

    def __call__(self, batch: dict) -> dict:
        return _run_batch(self.stage, self.out, batch, self.key)


def _run_batch(stage: Stage, out: Path, batch: dict, key: dict) -> dict:
    import json

    stats = [json.dumps(run_partition(stage, Partition(out, int(i), int(n), stage.name), key), default=str)
             for i, n in zip(batch["index"], batch["count"])]
    return {"index": list(batch["index"]), "stats": stats}


class RayExecutor(LocalExecutor):
    def __init__(self, out: Path, shards: int = 4, progress=None, config: Optional[RayConfig] = None, log=None):
        super().__init__(out, shards=shards, progress=progress, log=log)
        self.config = config or RayConfig()

    def _ensure_ray(self):
        import ray

        if not ray.is_initialized():
            ray.init(address=self.config.address, num_cpus=self.config.num_cpus if self.config.address is None else None,
                     include_dashboard=False, log_to_driver=False, ignore_reinit_error=True)
        return ray

    def _run_partitions(self, stage: Stage, todo: list[Partition], key: dict, tick) -> list:
        import json

        ray = self._ensure_ray()
        from ray.data import ActorPoolStrategy

        out = str(self.out)
        ds = ray.data.from_items([{"index": s.index, "count": s.count} for s in todo], override_num_blocks=len(todo))
        cfg, res = self.config, stage.resources
        if (has_setup(stage) and stage.setup_holds_model) or res.gpus:
            rows = ds.map_batches(_ModelActor, fn_constructor_kwargs={"stage": stage, "out": out, "key": key},
                                  compute=ActorPoolStrategy(min_size=1, max_size=max(1, min(cfg.actors, len(todo)))),
                                  batch_size=cfg.batch_size, num_cpus=res.cpus, num_gpus=res.gpus or None)
        else:
            rows = ds.map_batches(lambda b: _run_batch(stage, Path(out), b, key), batch_size=cfg.batch_size,
                                  num_cpus=res.cpus if stage.partitioned else 1)
        done = []
        for row in rows.iter_rows():
            done.append(json.loads(row["stats"]))
            if tick:
                tick(1)
        return done

    def shutdown(self) -> None:
        import ray

        if ray.is_initialized() and self.config.address is None:
            ray.shutdown()
