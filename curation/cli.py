"""The ``opseg`` command line."""
from __future__ import annotations

from contextlib import contextmanager
from pathlib import Path
from typing import List, Optional

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

app = typer.Typer(add_completion=False, no_args_is_help=True,
                  help="opseg: radiologists' GSPS/SR marks on CT -> grounded 3D vision-language corpus.")
console = Console()


@contextmanager
def _progress():
    """A factory of progress bars: ``factory(name, total)`` returns an advance(n) callable."""
    with Progress(TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                  console=console, transient=False, disable=not console.is_terminal) as prog:
        def factory(name: str, total: int):
            task = prog.add_task(name, total=total)
            return lambda n=1: prog.advance(task, n)
        yield factory


def _settings(set_pairs, **named) -> dict:
    from curation.pipeline.run import legacy_settings, merge_settings, parse_settings

    try:
        return merge_settings(legacy_settings(**named), parse_settings(set_pairs or []))
    except ValueError as exc:
        raise typer.BadParameter(str(exc))


def _thresholds(pairs) -> Optional[dict]:
    from curation.qc.stage import QCThresholds

    try:
        return vars(QCThresholds.from_pairs(pairs)) if pairs else None
    except ValueError as exc:
        raise typer.BadParameter(str(exc))


def _print_preview(lines) -> None:
    table = Table(title="plan: what runs and why", show_header=False)
    for name, text in lines:
        table.add_row(name, text)
    console.print(table)


def _run_alone(out: Path, stages, workers: int = 1):
    """A standalone command: the same executor as `opseg run --only STAGE`, with the partitions of the last run in
    OUT, so the stage's output is replaced, never added beside the earlier parts."""
    from curation.pipeline.run import run_stages

    with _progress() as factory:
        return run_stages(out, stages, workers=workers, progress=factory, preview=_print_preview)


def _totals(rep) -> dict:
    """A stage's per-partition stats added up (numbers and counters)."""
    total: dict = {}
    for stats in rep.stats:
        for k, v in (stats or {}).items():
            if isinstance(v, bool) or v is None:
                continue
            if isinstance(v, (int, float)):
                total[k] = total.get(k, 0) + v
            elif isinstance(v, dict) and all(isinstance(x, (int, float)) for x in v.values()):
                acc = total.setdefault(k, {})
                for kk, x in v.items():
                    acc[kk] = acc.get(kk, 0) + x
            else:
                total.setdefault(k, v)
    return total


def _print_stage(rep, title: str) -> None:
    table = Table(title=title, show_header=False)
    table.add_row("status", rep.reason)
    for k, v in _totals(rep).items():
        text = ", ".join(f"{a} {b}" for a, b in sorted(v.items())) or "0" if isinstance(v, dict) else (
            f"{v:.3g}" if isinstance(v, float) else str(v))
        table.add_row(k.replace("_", " "), text)
    table.add_row("seconds", f"{rep.seconds:.1f}")
    console.print(table)


SET_HELP = "STAGE.NAME=VALUE: any stage setting (e.g. segment.image_size=512, qc.max_components=2); repeatable"


@app.command()
def extract(source: Path = typer.Argument(..., exists=True, file_okay=False, help="Archive folder of DICOM files"),
            out: Path = typer.Option(..., "--out", "-o", help="Output folder for the Parquet tables"),
            reports: Optional[List[Path]] = typer.Option(None, "--reports", "-r", exists=True, dir_okay=False,
                                                         help="Sidecar report table(s): CSV, JSONL or Parquet"),
            workers: Optional[int] = typer.Option(None, help="Header-reading processes (default: all cores)")):
    """Index the archive and extract annotations, series geometry and reports into OUT/<table>/."""
    from curation.extract.stage import ExtractConfig, ExtractStage

    stage = ExtractStage(ExtractConfig(source.resolve(), tuple(p.resolve() for p in reports or ())), workers=workers)
    rep = _run_alone(out, [stage])[0]
    t = _totals(rep)
    table = Table(title=f"opseg extract -> {out}", show_header=False)
    table.add_row("status", rep.reason)
    if t:
        table.add_row("files", f"{t['files']} ({t['read']} read, {t['files'] - t['read']} unchanged)")
        table.add_row("series", f"{t['series']} ({t['ct_series']} CT)")
        table.add_row("annotations", ", ".join(f"{k} {v}" for k, v in t["annotations_by_kind"].items()) or "0")
        table.add_row("reports", str(t["reports"]))
        table.add_row("quarantined", ", ".join(f"{k} {v}" for k, v in t["quarantined"].items()) or "0")
    console.print(table)


def _print_run(reports, out: Path, hf: Path) -> None:
    import json

    from curation.io.query import connect

    table = Table(title=f"opseg run -> {out}")
    for col in ("stage", "shards run", "shards resumed", "seconds", "CPU seconds"):
        table.add_column(col)
    for r in reports:
        table.add_row(r.name, str(r.shards_run), str(r.shards_skipped), f"{r.seconds:.1f}", f"{r.cpu_seconds:.1f}")
    wall = max(r.finished for r in reports) - min(r.started for r in reports) if reports else 0.0
    table.add_row("total (stages overlap with --workers > 1)", "", "", f"{wall:.1f}",
                  f"{sum(r.cpu_seconds for r in reports):.1f}")
    console.print(table)
    con = connect(out)
    counts = Table(title="results", show_header=False)
    for name in ("studies", "annotations", "reports", "masks", "findings", "links", "qc", "quarantine"):
        counts.add_row(name, str(con.sql(f"select count(*) from {name}").fetchall()[0][0]))
    tiers = con.sql("select tier, count(*) from links group by 1 order by 1").fetchall()
    counts.add_row("links by tier", ", ".join(f"{t} {n}" for t, n in tiers) or "-")
    passed = con.sql("select count(*) filter (where passed), count(*) from qc where metric = 'qc_pass'").fetchall()[0]
    counts.add_row("qc pass", f"{passed[0]}/{passed[1]}")
    reasons = con.sql("select reason, count(*) from quarantine group by 1 order by 2 desc, 1").fetchall()
    counts.add_row("quarantined", ", ".join(f"{r} {n}" for r, n in reasons) or "-")
    seg_eval = out / "eval" / "segmentation.json"
    if seg_eval.exists():
        summary = json.loads(seg_eval.read_text())["summary"]
        counts.add_row("Dice vs truth", ", ".join(f"{k} {v['dice_mean']:.3f}" for k, v in summary.items()))
    link_eval = out / "eval" / "links.json"
    if link_eval.exists():
        le = json.loads(link_eval.read_text())
        counts.add_row("links vs truth", ", ".join(f"{k} {v:.3f}" for k, v in le.items() if isinstance(v, float)))
    counts.add_row("dataset", f"{hf}  (datasets.load_dataset('{hf}', 'grounded'))")
    counts.add_row("QC report", str(out / "report" / "index.html"))
    console.print(counts)


@app.command()
def run(source: str = typer.Argument(..., help="Archive folder, dicomweb+http://host:port/dicom-web or "
                                               "dimse://AET@host:port?calling=OPSEG&store_port=11113"),
        out: Path = typer.Argument(..., help="Output folder"),
        reports: Optional[List[Path]] = typer.Option(None, "--reports", "-r", exists=True, dir_okay=False),
        shards: int = typer.Option(4, help="Studies are split into this many partitions (resume and parallel unit)"),
        workers: int = typer.Option(1, help="Processes running partitions (e.g. the number of cores), shared by "
                                            "stages that do not wait for each other; model stages load one model "
                                            "per process"),
        only: Optional[List[str]] = typer.Option(None, "--only", help="Run just this stage on the tables in OUT (repeatable)"),
        backend: Optional[str] = typer.Option(None, help="Segmentation: classical (default, CPU) | sam2ct"),
        checkpoint: Optional[Path] = typer.Option(None, exists=True, dir_okay=False, help="Segmentation weights"),
        image_size: Optional[int] = typer.Option(None, help="Segmentation: 1024 (SAM2, SAM2CT) or 512 (MedSAM2)"),
        mcm: Optional[bool] = typer.Option(None, "--mcm/--no-mcm", help="Segmentation: memory-conditioned memories"),
        memory_policy: Optional[str] = typer.Option(None, help="Segmentation: auto (default) | sam2ct-reference | sam2"),
        device: Optional[str] = typer.Option(None, help="Segmentation: cuda | cpu (default: cuda when present)"),
        link_backend: Optional[str] = typer.Option(None, help="Findings: rules (default) | radgraph"),
        link_model_dir: Optional[Path] = typer.Option(None, exists=True, file_okay=False, help="radgraph model folder"),
        threshold: Optional[List[str]] = typer.Option(None, "--threshold", "-t", help="QC threshold NAME=VALUE (repeatable)"),
        min_tier: Optional[str] = typer.Option(None, help="Lowest link tier in the grounded config (A, B or C; default B)"),
        set_: Optional[List[str]] = typer.Option(None, "--set", help=SET_HELP),
        hf: Optional[Path] = typer.Option(None, "--hf", help="Hugging Face dataset folder (default OUT/hf)"),
        seg: Optional[Path] = typer.Option(None, "--seg", help="Also write DICOM SEG files into this folder"),
        truth: Optional[Path] = typer.Option(None, "--truth", exists=True, file_okay=False,
                                             help="A demo archive folder: score masks and links against its truth"),
        deid: bool = typer.Option(True, "--deid/--no-deid", help="Publish and report from a de-identified copy"),
        secret_file: Optional[Path] = typer.Option(None, "--secret-file", exists=True, dir_okay=False,
                                                   help="Project secret for pseudonyms (default $OPSEG_DEID_SECRET, "
                                                        "else one created at OUT/_secret/deid.key)"),
        executor: str = typer.Option("local", help="local | ray"),
        address: Optional[str] = typer.Option(None, help="Ray cluster address (default: start a local Ray)"),
        actors: int = typer.Option(1, help="Ray: segmentation actors (one model copy each, num_gpus per actor)"),
        batch_size: int = typer.Option(1, help="Ray: partitions per call")):
    """extract -> segment -> qc -> lesions -> link -> deid -> publish -> report with completion markers keyed by each stage's
    settings, version, model checksum and inputs: a rerun does only what changed, a killed run resumes. Prints what
    will run and why before it starts."""
    from curation.pipeline.errors import described
    from curation.pipeline.run import run_pipeline

    settings = _settings(set_, backend=backend, checkpoint=checkpoint, image_size=image_size, mcm=mcm,
                         memory_policy=memory_policy, device=device, link_backend=link_backend,
                         link_model_dir=link_model_dir, thresholds=_thresholds(threshold), min_tier=min_tier, hf_dir=hf)
    with _progress() as factory:
        try:
            reps = run_pipeline(source, out, reports=reports, shards=shards, workers=workers, progress=factory,
                                settings=settings, only=only, truth=truth, seg_dir=seg, deid=deid,
                                secret_file=secret_file, executor=executor, preview=_print_preview,
                                ray_config=_ray_config(address, actors, batch_size) if executor == "ray" else None)
        except ValueError as exc:
            raise typer.BadParameter(described(exc))
    _print_run(reps, out, hf or out / "hf")


def _ray_config(address, actors, batch_size):
    from curation.pipeline.ray_executor import RayConfig

    return RayConfig(address=address, actors=actors, batch_size=batch_size)


@app.command()
def demo(folder: Path = typer.Argument(Path("demo"), help="Where the demo archive and its outputs go"),
         studies: int = typer.Option(3), seed: int = typer.Option(0), shards: int = typer.Option(3),
         workers: int = typer.Option(1, help="Processes per stage"),
         bad_input: bool = typer.Option(True, "--bad-input/--clean", help="Plant broken files (they end in quarantine)")):
    """Generate the demo archive (once) and run the whole pipeline on it, scored against its truth: the README's
    main job. Writes DIR/out (tables, report/index.html), DIR/out/hf (dataset) and DIR/seg (DICOM SEG)."""
    from curation.demo import generate_archive
    from curation.pipeline.run import run_pipeline

    if not (folder / "truth" / "annotations.jsonl").exists():
        with _progress() as factory:
            generate_archive(folder, seed=seed, n_studies=studies, bad_input=bad_input, progress=factory)
    with _progress() as factory:
        reps = run_pipeline(folder / "dicom", folder / "out", reports=[folder / "reports.jsonl"], shards=shards,
                            workers=workers, progress=factory, truth=folder, seg_dir=folder / "seg",
                            preview=_print_preview)
    _print_run(reps, folder / "out", folder / "out" / "hf")


@app.command("demo-archive")
def demo_archive(out_dir: Path = typer.Argument(..., help="Folder to write the synthetic archive into"),
                 seed: int = typer.Option(0, help="Random seed (same seed, same archive)"),
                 studies: int = typer.Option(3, help="Number of CT studies"),
                 bad_input: bool = typer.Option(False, "--bad-input/--no-bad-input",
                                                help="Also write broken files (truncated, non-DICOM, bad GSPS)")):
    """Write a synthetic CT archive with GSPS/SR marks, reports and a truth folder."""
    from curation.demo import generate_archive

    with _progress() as factory:
        info = generate_archive(out_dir, seed=seed, n_studies=studies, bad_input=bad_input, progress=factory)
    console.print(f"demo archive: {info['n_studies']} studies, {info['n_files']} files, "
                  f"{info['n_annotations']} truth annotations -> {out_dir}/dicom (reports: {out_dir / 'reports.jsonl'}, "
                  f"truth: {out_dir / 'truth'})")


@app.command()
def segment(out: Path = typer.Argument(..., exists=True, file_okay=False, help="Output folder of `opseg extract`"),
            backend: Optional[str] = typer.Option(None, help="classical (weight-free CPU default) | classical-2d (its predecessor) | sam2ct"),
            checkpoint: Optional[Path] = typer.Option(None, exists=True, dir_okay=False,
                                                      help="SAM2 / SAM2.1 / MedSAM2 / SAM2CT checkpoint (see docs/weights.md)"),
            image_size: Optional[int] = typer.Option(None, help="1024 (SAM2, SAM2CT; default) or 512 (MedSAM2)"),
            mcm: Optional[bool] = typer.Option(None, "--mcm/--no-mcm", help="memory-conditioned memories (SAM2CT paper §3.4)"),
            memory_policy: Optional[str] = typer.Option(None, help="auto (default) | sam2ct-reference | sam2: the inference path; "
                                                                   "auto = the SAM2CT reference's for SAM2CT checkpoints (docs/weights.md)"),
            arrow_tail_px: Optional[float] = typer.Option(None, help="arrow tail distance from the tip in slice pixels (default 25):"
                                                                    " the value the model was trained with (docs/weights.md)"),
            device: Optional[str] = typer.Option(None, help="cuda | cpu (default: cuda when present)"),
            set_: Optional[List[str]] = typer.Option(None, "--set", help=SET_HELP),
            workers: int = typer.Option(1, help="Processes (one model each)")):
    """Turn every annotation with a known slice into a 3D mask: OUT/masks/ (errors recorded per annotation). The same
    code path as `opseg run --only segment`: it replaces the stage's output."""
    from curation.pipeline.run import stage_configs
    from segmentation.stage import SegmentStage

    cfg = stage_configs(_settings(set_, backend=backend, checkpoint=checkpoint, image_size=image_size, mcm=mcm,
                                  memory_policy=memory_policy, device=device, arrow_tail_px=arrow_tail_px))["segment"]
    if cfg.backend == "sam2ct" and cfg.checkpoint is None:
        console.print("[yellow]sam2ct without --checkpoint runs on RANDOM weights (for tests and benchmarks only)[/]")
    _print_stage(_run_alone(out, [SegmentStage(cfg)], workers)[0], f"opseg segment -> {out / 'masks'}")


@app.command("eval")
def evaluate(data: Path = typer.Argument(..., exists=True, file_okay=False,
                                         help="NIfTI dataset (imagesTr/ + labelsTr/ or image/ + nodule_mask/), or an opseg OUT with --truth"),
             truth: Optional[Path] = typer.Option(None, exists=True, file_okay=False,
                                                  help="Demo archive folder: score OUT/masks against its truth/"),
             backend: str = typer.Option("classical", help="classical | classical-2d | sam2ct (dataset mode)"),
             checkpoint: Optional[Path] = typer.Option(None, exists=True, dir_okay=False),
             image_size: int = typer.Option(1024),
             mcm: bool = typer.Option(True, "--mcm/--no-mcm"),
             memory_policy: str = typer.Option("auto", help="auto | sam2ct-reference | sam2 (docs/weights.md)"),
             arrow_tail_px: Optional[float] = typer.Option(None, help="arrow tail distance in slice pixels (default 25), synthetic and drawn arrows"),
             label: int = typer.Option(1, help="Lesion label in labelsTr (lesions = its connected components)"),
             max_cases: Optional[int] = typer.Option(None),
             seed: int = typer.Option(0),
             half: str = typer.Option("all", help="Crop folders: all | tune | holdout (stable split by patient)"),
             report: Optional[Path] = typer.Option(None, help="Write the JSON here (Markdown beside it)")):
    """Dice per prompt kind and RECIST error with 95% bootstrap CIs: paper protocol (imagesTr/ + labelsTr/),
    real lesion crops (image/ + nodule_mask/: per size, density and location too), or the demo truth."""
    import json

    from segmentation.real_eval import is_crop_folder

    if truth is not None:
        from curation.demo.truth import DemoTruth
        from segmentation.evaluate import evaluate_demo, to_markdown

        result = evaluate_demo(data, DemoTruth(truth))
        md = to_markdown(result)
    elif is_crop_folder(data):
        from segmentation.real_eval import crop_cases, crops_markdown, evaluate_crops
        from segmentation.stage import make_segmenter

        segmenter = make_segmenter(backend, checkpoint, image_size, mcm, memory_policy, arrow_tail_px=arrow_tail_px)
        n = len(crop_cases(data)) if max_cases is None else max_cases
        with _progress() as factory:
            result = evaluate_crops(data, segmenter, seed=seed, max_cases=max_cases, half=half,
                                    tick=factory("eval cases", n))
        md = crops_markdown(result)
    else:
        from segmentation.protocol import dataset_cases, evaluate_dataset, table2_markdown
        from segmentation.stage import make_segmenter

        segmenter = make_segmenter(backend, checkpoint, image_size, mcm, memory_policy, arrow_tail_px=arrow_tail_px)
        with _progress() as factory:
            tick = factory("eval cases", len(dataset_cases(data)[:max_cases]))
            result = evaluate_dataset(data, segmenter, label, seed=seed, max_cases=max_cases, tick=tick,
                                      arrow_tail_px=arrow_tail_px)
        md = table2_markdown([result])
    if report:
        report.parent.mkdir(parents=True, exist_ok=True)
        report.write_text(json.dumps(result, indent=1))
        report.with_suffix(".md").write_text(md)
    console.print(md)


@app.command()
def train(data: Path = typer.Argument(..., exists=True, file_okay=False, help="NIfTI dataset: imagesTr/ + labelsTr/"),
          init: str = typer.Option(..., help="'random' or a SAM2 / SAM2.1 / MedSAM2 / SAM2CT checkpoint path"),
          out: Path = typer.Option(..., help="Run folder: best.pt, last.pt, metrics.jsonl, train_summary.json"),
          label: int = typer.Option(1, help="Lesion label (lesions = its connected components)"),
          image_size: int = typer.Option(1024), epochs: int = typer.Option(80), frames: int = typer.Option(8),
          steps_per_epoch: Optional[int] = typer.Option(None), lr: float = typer.Option(5e-6),
          lr_image_encoder: float = typer.Option(3e-6), mcm: bool = typer.Option(True, "--mcm/--no-mcm"),
          device: Optional[str] = typer.Option(None, help="cuda | cpu (default: cuda when present)"),
          arrow_tail_px: Optional[float] = typer.Option(None, help="synthetic arrow tail distance in slice pixels (default 25);"
                                                                    " segment/eval must use the same value (docs/weights.md)"),
          resume: bool = typer.Option(False, help="Continue from OUT/last.pt")):
    """Fine-tune SAM2CT with the paper's synthetic arrow/line/point/box/mask prompts on 8-slice sub-volumes."""
    import json

    from segmentation.sam2ct.device import DeviceError, resolve_device
    from segmentation.train import TrainConfig, train as run_train

    try:  # a missing GPU is said now, not after the data is loaded
        resolve_device(device)
    except DeviceError as exc:
        console.print(f"[red]{exc}[/]")
        raise typer.Exit(2)
    cfg = TrainConfig(data=str(data), out=str(out), init=init, lesion_label=label, image_size=image_size, epochs=epochs,
                      frames=frames, steps_per_epoch=steps_per_epoch, lr=lr, lr_image_encoder=lr_image_encoder, mcm=mcm,
                      device=device, arrow_tail_px=arrow_tail_px)
    out.mkdir(parents=True, exist_ok=True)
    with open(out / "metrics.jsonl", "a") as log:
        def record(entry):
            log.write(json.dumps(entry) + "\n")
            log.flush()
            if "val_dice" in entry:
                console.print(entry)
        state = run_train(cfg, log=record, resume=resume)
    console.print(f"best validation Dice {state['best_val_dice']:.3f} -> {out / 'best.pt'}")


@app.command()
def link(out: Path = typer.Argument(..., exists=True, file_okay=False, help="Output folder of extract (+ segment)"),
         backend: Optional[str] = typer.Option(None, help="rules (offline spaCy default) | radgraph"),
         model_dir: Optional[Path] = typer.Option(None, exists=True, file_okay=False,
                                                  help="radgraph: local <cache>/<model_type>/ folder (config.json, vocabulary/, weights.th)"),
         set_: Optional[List[str]] = typer.Option(None, "--set", help=SET_HELP),
         truth: Optional[Path] = typer.Option(None, exists=True, file_okay=False,
                                              help="Demo archive folder: also score the links against its truth")):
    """Parse reports into findings (RadGraph schema) and link marks/masks to them: OUT/findings, OUT/links (the same
    code path as `opseg run --only link`)."""
    from curation.pipeline.run import stage_configs
    from linking.stage import LinkStage

    cfg = stage_configs(_settings(set_, link_backend=backend, link_model_dir=model_dir))["link"]
    _print_stage(_run_alone(out, [LinkStage(cfg)])[0], f"opseg link -> {out}")
    if truth is not None:
        from curation.demo.truth import DemoTruth
        from linking.evaluate import evaluate_links, to_markdown

        console.print(to_markdown(evaluate_links(out, DemoTruth(truth))))


@app.command()
def qc(out: Path = typer.Argument(..., exists=True, file_okay=False, help="Output folder with masks (and links)"),
       threshold: Optional[List[str]] = typer.Option(None, "--threshold", "-t",
                                                     help="NAME=VALUE, e.g. max_recist_error_pct=15 (repeatable)"),
       set_: Optional[List[str]] = typer.Option(None, "--set", help=SET_HELP)):
    """QC metrics per mask into OUT/qc (long format) with a pass/fail verdict and its reasons (the same code path as
    `opseg run --only qc`: it replaces the qc table)."""
    from curation.pipeline.run import stage_configs
    from curation.qc.stage import QCStage

    cfg = stage_configs(_settings(set_, thresholds=_thresholds(threshold)))["qc"]
    rep = _run_alone(out, [QCStage(cfg)])[0]
    t = _totals(rep)
    console.print(f"qc ({rep.reason}): {t.get('passed', '-')}/{t.get('masks', '-')} masks pass -> {out / 'qc'}")


@app.command()
def lesions(out: Path = typer.Argument(..., exists=True, file_okay=False, help="Output folder with masks and qc"),
            set_: Optional[List[str]] = typer.Option(None, "--set", help=SET_HELP)):
    """Group the marks and masks that show one lesion into OUT/lesions and OUT/lesion_members (the same code path as
    `opseg run --only lesions`)."""
    from curation.lesions.stage import LesionsStage
    from curation.pipeline.run import stage_configs

    rep = _run_alone(out, [LesionsStage(stage_configs(_settings(set_))["lesions"])])[0]
    t = _totals(rep)
    console.print(f"lesions ({rep.reason}): {t.get('marks', '-')} marks -> {t.get('lesions', '-')} lesions "
                  f"({t.get('duplicates', '-')} duplicates) -> {out / 'lesions'}")


@app.command("export-seg")
def export_seg_cmd(out: Path = typer.Argument(..., exists=True, file_okay=False, help="Output folder with masks"),
                   target: Path = typer.Argument(..., help="Folder for the DICOM SEG files")):
    """One BINARY DICOM SEG per CT series (one segment per mask), for a PACS or a viewer."""
    from curation.publish.stage import ExportSegConfig, ExportSegStage

    rep = _run_alone(out, [ExportSegStage(ExportSegConfig(target.resolve()))])[0]
    console.print(f"{_totals(rep).get('files', 0)} DICOM SEG file(s) -> {target} ({rep.reason})")


@app.command()
def publish(out: Path = typer.Argument(..., exists=True, file_okay=False, help="An opseg output folder"),
            hf: Optional[Path] = typer.Option(None, "--hf", help="Dataset folder to write (default OUT/hf)"),
            push_to_hub: Optional[str] = typer.Option(None, "--push-to-hub", metavar="REPO",
                                                      help="Upload to this Hub dataset repo (de-identified output only)"),
            min_tier: str = typer.Option("B", help="Lowest link tier in the grounded config (A, B or C)"),
            min_review: Optional[str] = typer.Option(None, help="accept | minor: keep only masks whose reviewers' "
                                                                "latest scores are this good (unreviewed masks left out)"),
            volumes: bool = typer.Option(True, "--volumes/--no-volumes", help="Write the CT volumes as NIfTI files"),
            public: bool = typer.Option(False, "--public", help="Create the Hub repo public (default private)"),
            deid: bool = typer.Option(True, "--deid/--no-deid", help="Publish a de-identified copy (OUT/deid)"),
            secret_file: Optional[Path] = typer.Option(None, "--secret-file", exists=True, dir_okay=False,
                                                       help="Project secret (default $OPSEG_DEID_SECRET, else "
                                                            "OUT/_secret/deid.key, created once)")):
    """A Hugging Face dataset folder (configs per table + `grounded`, splits by patient, card) from OUT (the same code
    path as `opseg run --only deid --only publish`)."""
    import json

    from curation.publish.dataset import PublishError, push_to_hub as push
    from curation.publish.stage import PublishConfig, PublishStage

    hf = hf or out / "hf"
    stages = []
    if deid:
        from curation.deid.secret import ProjectSecret
        from curation.deid.stage import DeidStage

        stages.append(DeidStage(secret=ProjectSecret.for_output(out, secret_file)))
    plan = out / "_markers" / "run.json"
    settings = {s["stage"]: s["config"] for s in json.loads(plan.read_text())["stages"]} if plan.exists() else {}
    recorded = {k: v for k, v in settings.get("publish", {}).items() if k == "fractions"}  # the run's splits
    cfg = PublishConfig(hf_dir=hf, min_tier=min_tier, volumes=volumes, min_review=min_review,
                        source="deid" if deid else "", **{k: tuple(v) for k, v in recorded.items()})
    settings["publish"] = {**settings.get("publish", {}), "min_tier": min_tier, "volumes": volumes,
                           "min_review": min_review}
    try:
        rep = _run_alone(out, stages + [PublishStage(cfg, settings=settings)])[-1]
        rows = _totals(rep).get("rows") or (json.loads((out / "_markers" / "publish" / "part-00000.json").read_text())
                                            ["stats"]["rows"])
        table = Table(title=f"published -> {hf} ({rep.reason})")
        for col in ("config", "train", "validation", "test", "audit"):
            table.add_column(col)
        for config, splits in rows.items():
            table.add_row(config, *(str(splits.get(s, 0)) for s in ("train", "validation", "test", "audit")))
        console.print(table)
        if push_to_hub:
            console.print(push(out / "deid" if deid else out, hf, push_to_hub, private=not public))
    except PublishError as exc:
        console.print(f"[red]publish: {exc.reason}: {exc.detail}")
        raise typer.Exit(2)


@app.command()
def deid(out: Path = typer.Argument(..., exists=True, file_okay=False, help="An opseg output folder"),
         target: Optional[Path] = typer.Argument(None, help="Where the de-identified tables go (default OUT/deid)"),
         secret_file: Optional[Path] = typer.Option(None, "--secret-file", exists=True, dir_okay=False)):
    """A de-identified copy of the tables: HMAC keys, dicognito for DICOM fields, scrubbed text, shifted dates."""
    from curation.deid.secret import ProjectSecret
    from curation.deid.stage import DeidConfig, DeidStage

    stage = DeidStage(DeidConfig(str(target.resolve()) if target else "deid"), secret=ProjectSecret.for_output(out, secret_file))
    rep = _run_alone(out, [stage])[0]
    console.print(f"de-identified -> {target or out / 'deid'} ({rep.reason}): replacements {_totals(rep).get('replacements', {})}")


@app.command()
def report(out: Path = typer.Argument(..., exists=True, file_okay=False, help="An opseg output folder"),
           target: Optional[Path] = typer.Option(None, "--out", help="Report folder (default OUT/report)"),
           evaluation: Optional[Path] = typer.Option(None, "--eval", help="segmentation.json of `opseg eval --report` "
                                                                          "(default OUT/eval/segmentation.json)"),
           deid: bool = typer.Option(True, "--deid/--no-deid", help="Draw from the de-identified copy OUT/deid "
                                                                   "(made by opseg run, deid or publish)")):
    """Static HTML QC report: per-mask axial/coronal/sagittal overlays with the GSPS mark, metrics, linked sentence."""
    from curation.report.stage import ReportConfig, ReportStage

    if deid and not (out / "deid" / "_deid" / "manifest.json").exists():
        console.print("[red]report: no de-identified copy in OUT/deid: run `opseg deid OUT` first, or --no-deid[/]")
        raise typer.Exit(2)
    cfg = ReportConfig(target=target.resolve() if target else None, source="deid" if deid else "",
                       evaluation=evaluation.resolve() if evaluation else None)
    rep = _run_alone(out, [ReportStage(cfg, evaluated=(out / "eval").is_dir())])[0]
    console.print(f"QC report -> {(target or out / 'report') / 'index.html'} ({rep.reason})")


@app.command()
def review(out: Path = typer.Argument(..., exists=True, file_okay=False, help="An opseg output folder with masks"),
           port: int = typer.Option(8765, help="Port to listen on"),
           reviewer: Optional[str] = typer.Option(None, help="Default reviewer name (each browser can set its own; "
                                                             "default: your login)"),
           host: str = typer.Option("127.0.0.1", help="Address to bind (loopback only unless you mean otherwise)"),
           deid: bool = typer.Option(True, "--deid/--no-deid", help="Serve the de-identified copy OUT/deid"),
           secret_file: Optional[Path] = typer.Option(None, "--secret-file", exists=True, dir_okay=False)):
    """Score masks in the browser (1 accept, 2 minor, 3 major, n/p, c comment); scores -> OUT/reviews."""
    from curation.review.catalog import ReviewError
    from curation.review.server import serve

    try:
        with _progress() as factory:
            serve(out, host=host, port=port, reviewer=reviewer, deid=deid, secret_file=secret_file, progress=factory,
                  echo=console.print)
    except ReviewError as exc:
        console.print(f"[red]review: {exc.reason}: {exc.detail}")
        raise typer.Exit(2)


@app.command()
def query(out: Path = typer.Argument(..., exists=True, file_okay=False, help="An opseg output folder"),
          sql: str = typer.Argument(..., help="SQL over the views studies, series, instances, annotations, reports, "
                                              "findings, masks, links, qc, reviews, quarantine"),
          limit: int = typer.Option(50, help="Rows to print")):
    """Run DuckDB SQL over the output tables (one view per table)."""
    from curation.io.query import connect

    rel = connect(out).sql(sql)
    if rel is None:
        return
    rows = rel.limit(limit).fetchall()
    table = Table(*rel.columns)
    for row in rows:
        table.add_row(*("" if v is None else str(v)[:80] for v in row))
    console.print(table)


def main():  # pragma: no cover - console script entry
    """``opseg``: the app, then an exit without Python's final collections. A run leaves ~300k objects (every
    stage's libraries: pydicom, scipy, spaCy, presidio, datasets, matplotlib); the collections at interpreter
    shutdown visit them all, ~1 s of every ``opseg run``. Frozen (gc.freeze: the permanent generation, which
    collections skip), the process exits at once; every file is already closed and atexit handlers still run."""
    import gc

    try:
        app()
    finally:
        gc.freeze()
