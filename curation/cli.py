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


@app.command()
def extract(source: Path = typer.Argument(..., exists=True, file_okay=False, help="Archive folder of DICOM files"),
            out: Path = typer.Option(..., "--out", "-o", help="Output folder for the Parquet tables"),
            reports: Optional[List[Path]] = typer.Option(None, "--reports", "-r", exists=True, dir_okay=False,
                                                         help="Sidecar report table(s): CSV, JSONL or Parquet"),
            workers: Optional[int] = typer.Option(None, help="Header-reading processes (default: all cores)")):
    """Index the archive and extract annotations, series geometry and reports into OUT/<table>/."""
    from curation.extract import extract as run_extract

    with _progress() as factory:
        summary = run_extract(source, out, reports=reports, workers=workers, progress=factory)
    table = Table(title=f"opseg extract -> {out}", show_header=False)
    table.add_row("files", f"{summary.n_files} ({summary.n_read} read, {summary.n_files - summary.n_read} unchanged)")
    table.add_row("series", f"{summary.n_series} ({summary.n_ct_series} CT)")
    table.add_row("annotations", ", ".join(f"{k} {v}" for k, v in sorted(summary.annotations_by_kind.items())) or "0")
    table.add_row("reports", str(summary.n_reports))
    table.add_row("quarantined", ", ".join(f"{k} {v}" for k, v in sorted(summary.quarantine_by_reason.items())) or "0")
    console.print(table)


def _print_run(reports, out: Path, hf: Path) -> None:
    import json

    from curation.query import connect

    table = Table(title=f"opseg run -> {out}")
    for col in ("stage", "shards run", "shards resumed", "seconds"):
        table.add_column(col)
    for r in reports:
        table.add_row(r.name, str(r.shards_run), str(r.shards_skipped), f"{r.seconds:.1f}")
    table.add_row("total", "", "", f"{sum(r.seconds for r in reports):.1f}")
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
        shards: int = typer.Option(4, help="Studies are split into this many shards (resume unit)"),
        backend: str = typer.Option("classical"), checkpoint: Optional[Path] = typer.Option(None, exists=True, dir_okay=False),
        image_size: int = typer.Option(1024), mcm: bool = typer.Option(True, "--mcm/--no-mcm"),
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
        batch_size: int = typer.Option(1, help="Ray: shards per call")):
    """extract -> segment -> link -> qc -> publish -> report with completion markers: a rerun skips finished
    work, a killed run resumes."""
    from curation.run import run_pipeline

    with _progress() as factory:
        reps = run_pipeline(source, out, reports=reports, shards=shards, progress=factory, backend=backend,
                            checkpoint=checkpoint, image_size=image_size, mcm=mcm, hf_dir=hf, truth=truth, seg_dir=seg,
                            deid=deid, secret_file=secret_file, executor=executor,
                            ray_config=_ray_config(address, actors, batch_size) if executor == "ray" else None)
    _print_run(reps, out, hf or out / "hf")


def _ray_config(address, actors, batch_size):
    from curation.ray_executor import RayConfig

    return RayConfig(address=address, actors=actors, batch_size=batch_size)


@app.command()
def demo(folder: Path = typer.Argument(Path("demo"), help="Where the demo archive and its outputs go"),
         studies: int = typer.Option(3), seed: int = typer.Option(0), shards: int = typer.Option(3),
         bad_input: bool = typer.Option(True, "--bad-input/--clean", help="Plant broken files (they end in quarantine)")):
    """Generate the demo archive (once) and run the whole pipeline on it, scored against its truth: the README's
    main job. Writes DIR/out (tables, report/index.html), DIR/out/hf (dataset) and DIR/seg (DICOM SEG)."""
    from curation.demo import generate_archive
    from curation.run import run_pipeline

    if not (folder / "truth" / "annotations.jsonl").exists():
        with _progress() as factory:
            generate_archive(folder, seed=seed, n_studies=studies, bad_input=bad_input, progress=factory)
    with _progress() as factory:
        reps = run_pipeline(folder / "dicom", folder / "out", reports=[folder / "reports.jsonl"], shards=shards,
                            progress=factory, truth=folder, seg_dir=folder / "seg")
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
            backend: str = typer.Option("classical", help="classical (weight-free CPU default) | sam2ct"),
            checkpoint: Optional[Path] = typer.Option(None, exists=True, dir_okay=False,
                                                      help="SAM2 / SAM2.1 / MedSAM2 / SAM2CT checkpoint (see docs/weights.md)"),
            image_size: int = typer.Option(1024, help="1024 (SAM2, SAM2CT) or 512 (MedSAM2)"),
            mcm: bool = typer.Option(True, "--mcm/--no-mcm", help="memory-conditioned memories (SAM2CT paper §3.4)"),
            memory_policy: str = typer.Option("auto", help="auto | sam2ct-reference | sam2: the inference path; auto = the "
                                                           "SAM2CT reference's for SAM2CT checkpoints (docs/weights.md)"),
            arrow_tail_px: Optional[float] = typer.Option(None, help="arrow tail distance from the tip in slice pixels (default 25):"
                                                                    " the value the model was trained with (docs/weights.md)")):
    """Turn every annotation with a known slice into a 3D mask: OUT/masks/ (errors recorded per annotation)."""
    from segmentation.stage import run_segment

    if backend == "sam2ct" and checkpoint is None:
        console.print("[yellow]sam2ct without --checkpoint runs on RANDOM weights (for tests and benchmarks only)[/]")
    with _progress() as factory:
        summary = run_segment(out, backend=backend, checkpoint=checkpoint, image_size=image_size, mcm=mcm,
                              memory_policy=memory_policy, progress=factory, arrow_tail_px=arrow_tail_px)
    table = Table(title=f"opseg segment -> {out / 'masks'}", show_header=False)
    table.add_row("masks", f"{summary.n_masks} ({', '.join(f'{k} {v}' for k, v in sorted(summary.by_kind.items()))})")
    table.add_row("errors", ", ".join(f"{k} {v}" for k, v in sorted(summary.errors.items())) or "0")
    table.add_row("seconds", f"{summary.seconds:.1f}")
    console.print(table)


@app.command("eval")
def evaluate(data: Path = typer.Argument(..., exists=True, file_okay=False,
                                         help="NIfTI dataset (imagesTr/ + labelsTr/), or an opseg OUT with --truth"),
             truth: Optional[Path] = typer.Option(None, exists=True, file_okay=False,
                                                  help="Demo archive folder: score OUT/masks against its truth/"),
             backend: str = typer.Option("classical", help="classical | sam2ct (dataset mode)"),
             checkpoint: Optional[Path] = typer.Option(None, exists=True, dir_okay=False),
             image_size: int = typer.Option(1024),
             mcm: bool = typer.Option(True, "--mcm/--no-mcm"),
             memory_policy: str = typer.Option("auto", help="auto | sam2ct-reference | sam2 (docs/weights.md)"),
             arrow_tail_px: Optional[float] = typer.Option(None, help="arrow tail distance in slice pixels (default 25), synthetic and drawn arrows"),
             label: int = typer.Option(1, help="Lesion label in labelsTr (lesions = its connected components)"),
             max_cases: Optional[int] = typer.Option(None),
             seed: int = typer.Option(0),
             report: Optional[Path] = typer.Option(None, help="Write the JSON here (Markdown beside it)")):
    """Dice per prompt kind and RECIST error with 95% bootstrap CIs (paper protocol, or demo truth)."""
    import json

    if truth is not None:
        from segmentation.evaluate import evaluate_demo, to_markdown

        result = evaluate_demo(data, truth)
        md = to_markdown(result)
    else:
        from segmentation.protocol import dataset_cases, evaluate_dataset, table2_markdown
        from segmentation.stage import make_segmenter

        segmenter = make_segmenter(backend, checkpoint, image_size, mcm, memory_policy, arrow_tail_px)
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
         backend: str = typer.Option("rules", help="rules (offline spaCy default) | radgraph"),
         model_dir: Optional[Path] = typer.Option(None, exists=True, file_okay=False,
                                                  help="radgraph: local <cache>/<model_type>/ folder (config.json, vocabulary/, weights.th)"),
         truth: Optional[Path] = typer.Option(None, exists=True, file_okay=False,
                                              help="Demo archive folder: also score the links against its truth")):
    """Parse reports into findings (RadGraph schema) and link marks/masks to them: OUT/findings, OUT/links."""
    from linking.stage import run_link

    with _progress() as factory:
        summary = run_link(out, backend=backend, model_dir=model_dir, progress=factory)
    table = Table(title=f"opseg link -> {out}", show_header=False)
    table.add_row("reports", str(summary.n_reports))
    table.add_row("findings", str(summary.n_findings))
    table.add_row("links", ", ".join(f"tier {k} {v}" for k, v in sorted(summary.tiers.items())) or "0")
    table.add_row("seconds", f"{summary.seconds:.2f}")
    console.print(table)
    if truth is not None:
        from linking.evaluate import evaluate_links, to_markdown

        console.print(to_markdown(evaluate_links(out, truth)))


@app.command()
def qc(out: Path = typer.Argument(..., exists=True, file_okay=False, help="Output folder with masks (and links)"),
       threshold: Optional[List[str]] = typer.Option(None, "--threshold", "-t",
                                                     help="NAME=VALUE, e.g. max_recist_error_pct=15 (repeatable)")):
    """QC metrics per mask into OUT/qc (long format) with a pass/fail verdict and its reasons."""
    from curation.qc import QCThresholds, run_qc

    with _progress() as factory:
        res = run_qc(out, QCThresholds.from_pairs(threshold or []), progress=factory)
    console.print(f"qc: {res['passed']}/{res['masks']} masks pass -> {out / 'qc'}")


@app.command("export-seg")
def export_seg_cmd(out: Path = typer.Argument(..., exists=True, file_okay=False, help="Output folder with masks"),
                   target: Path = typer.Argument(..., help="Folder for the DICOM SEG files")):
    """One BINARY DICOM SEG per CT series (one segment per mask), for a PACS or a viewer."""
    from curation.seg_export import export_seg

    files = export_seg(out, target)
    console.print(f"{len(files)} DICOM SEG file(s) -> {target}")


@app.command()
def publish(out: Path = typer.Argument(..., exists=True, file_okay=False, help="An opseg output folder"),
            hf: Optional[Path] = typer.Option(None, "--hf", help="Dataset folder to write (default OUT/hf)"),
            push_to_hub: Optional[str] = typer.Option(None, "--push-to-hub", metavar="REPO",
                                                      help="Upload to this Hub dataset repo (de-identified output only)"),
            min_tier: str = typer.Option("B", help="Lowest link tier in the grounded config (A, B or C)"),
            volumes: bool = typer.Option(True, "--volumes/--no-volumes", help="Write the CT volumes as NIfTI files"),
            public: bool = typer.Option(False, "--public", help="Create the Hub repo public (default private)"),
            deid: bool = typer.Option(True, "--deid/--no-deid", help="Publish a de-identified copy (OUT/deid)"),
            secret_file: Optional[Path] = typer.Option(None, "--secret-file", exists=True, dir_okay=False,
                                                       help="Project secret (default $OPSEG_DEID_SECRET, else "
                                                            "OUT/_secret/deid.key, created once)")):
    """A Hugging Face dataset folder (configs per table + `grounded`, splits by patient, card) from OUT."""
    from curation.publish import PublishError, deidentification_status, publish as run_publish, push_to_hub as push

    hf = hf or out / "hf"
    source = out
    try:
        with _progress() as factory:
            if deid and deidentification_status(out) is None:
                from curation.deid.secret import ProjectSecret
                from curation.deid.tables import deidentify

                secret = ProjectSecret.for_output(out, secret_file)
                source = out / "deid"
                deidentify(out, source, secret, progress=factory)
            summary = run_publish(source, hf, min_tier=min_tier, volumes=volumes, progress=factory)
        table = Table(title=f"published -> {hf}")
        for col in ("config", "train", "validation", "test", "audit"):
            table.add_column(col)
        for config, splits in summary.rows.items():
            table.add_row(config, *(str(splits.get(s, 0)) for s in ("train", "validation", "test", "audit")))
        console.print(table)
        console.print(f"CT volumes: {summary.volumes_written} written, {summary.volumes_reused} reused, "
                      f"{len(summary.volume_errors)} failed; de-identified: {summary.deidentified}")
        if push_to_hub:
            console.print(push(source, hf, push_to_hub, private=not public))
    except PublishError as exc:
        console.print(f"[red]publish: {exc.reason}: {exc.detail}")
        raise typer.Exit(2)


@app.command()
def deid(out: Path = typer.Argument(..., exists=True, file_okay=False, help="An opseg output folder"),
         target: Optional[Path] = typer.Argument(None, help="Where the de-identified tables go (default OUT/deid)"),
         secret_file: Optional[Path] = typer.Option(None, "--secret-file", exists=True, dir_okay=False)):
    """A de-identified copy of the tables: HMAC keys, dicognito for DICOM fields, scrubbed text, shifted dates."""
    from curation.deid.secret import ProjectSecret
    from curation.deid.tables import deidentify

    secret = ProjectSecret.for_output(out, secret_file)
    with _progress() as factory:
        manifest = deidentify(out, target or out / "deid", secret, progress=factory)
    console.print(f"de-identified -> {target or out / 'deid'}: replacements {manifest['replacements']}")


@app.command()
def report(out: Path = typer.Argument(..., exists=True, file_okay=False, help="An opseg output folder"),
           target: Optional[Path] = typer.Option(None, "--out", help="Report folder (default OUT/report)"),
           evaluation: Optional[Path] = typer.Option(None, "--eval", help="segmentation.json of `opseg eval --report` "
                                                                          "(default OUT/eval/segmentation.json)")):
    """Static HTML QC report: per-mask axial/coronal/sagittal overlays with the GSPS mark, metrics, linked sentence."""
    from curation.qc_report import write_report

    with _progress() as factory:
        index = write_report(out, target, evaluation or out / "eval" / "segmentation.json", progress=factory)
    console.print(f"QC report -> {index}")


@app.command()
def query(out: Path = typer.Argument(..., exists=True, file_okay=False, help="An opseg output folder"),
          sql: str = typer.Argument(..., help="SQL over the views studies, series, instances, annotations, reports, "
                                              "findings, masks, links, qc, quarantine"),
          limit: int = typer.Option(50, help="Rows to print")):
    """Run DuckDB SQL over the output tables (one view per table)."""
    from curation.query import connect

    rel = connect(out).sql(sql)
    if rel is None:
        return
    rows = rel.limit(limit).fetchall()
    table = Table(*rel.columns)
    for row in rows:
        table.add_row(*("" if v is None else str(v)[:80] for v in row))
    console.print(table)


def main():  # pragma: no cover - console script entry
    app()
