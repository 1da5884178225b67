"""``ser-hf predict``: label recordings with one or more trained models.

    ser-hf predict recordings/ --model ORG/ser-hubert-bilingual@v1 --out emotions.parquet
    ser-hf predict calls/*.wav --model outputs/hubert_bilingual --model outputs/quickstart/onnx \\
        --segments vad --out calls.csv --plots plots/
    accelerate launch -m ser_hf.predict big_manifest.csv --model ORG/M --out shards/

Under ``accelerate launch`` (torchrun) each process takes every N-th input and the main process writes one table
in input order. The exit status is 0 when at least one input was labelled, 1 when none could be (every input is in
the error table), 2 for a usage error (named in one line before any model loads).
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import shutil
import sys
import time
from dataclasses import asdict
from pathlib import Path

from ser_hf.predict.options import (DEFAULTS, ERROR_KINDS, OUTPUT_FORMATS, PRECISIONS, SEGMENT_MODES, VAD_BACKENDS,
                                    resolve_precision, resolve_streams)

logger = logging.getLogger("ser_hf.predict")


def build_parser() -> argparse.ArgumentParser:
    d = DEFAULTS
    p = argparse.ArgumentParser(
        prog="ser-hf predict", description="Label recordings with trained emotion models (files, folders, globs, "
        "manifests, a prepared split); long recordings in segments; resumable; shardable with accelerate launch.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="segments:\n" + "\n".join(f"  {k:8s} {v}" for k, v in SEGMENT_MODES.items())
        + "\nerror table (inputs without a prediction):\n" + "\n".join(f"  {k:10s} {v}" for k, v in ERROR_KINDS.items()))
    p.add_argument("inputs", nargs="+", help="audio files, folders (searched recursively), globs, manifests "
                   "(.csv/.tsv/.jsonl/.parquet with a path column and an optional label column), or a `ser-hf "
                   "prepare` output folder (with --split)")
    p.add_argument("--model", action="append", required=True, metavar="[NAME=]SOURCE",
                   help="a train.py run folder, a Hub id[@revision], or an ONNX export folder (RUN/onnx); repeat for "
                        "several models side by side")
    p.add_argument("--out", required=True, help="output table: .csv, .jsonl, .parquet, or a folder name without an "
                   "extension for a `datasets` folder (load_from_disk)")
    p.add_argument("--split", default="test", help="the split of a prepared dataset folder (default: test)")
    p.add_argument("--path-column", default=None, help="a manifest's path column (default: path, file_name, file, ...)")
    p.add_argument("--label-column", default=None, help="a manifest's label column (default: emotion, label, ... if any)")
    p.add_argument("--label-view", default=None, help="map every model's classes onto this label set (e.g. realtime4); "
                   "needed to run models with different classes side by side")
    p.add_argument("--segments", choices=list(SEGMENT_MODES), default=d["segments"],
                   help="how recordings longer than --long-seconds are cut (see below)")
    p.add_argument("--vad", choices=VAD_BACKENDS, default=d["vad"],
                   help="voice-activity detector for --segments vad (auto: silero-vad when installed, else energy)")
    p.add_argument("--long-seconds", type=float, default=d["long_seconds"], help="recordings longer than this are segmented")
    p.add_argument("--window", type=float, default=d["window"], help="window length (s) of --segments windows")
    p.add_argument("--hop", type=float, default=d["hop"], help="a new window every HOP seconds (window - hop = overlap)")
    p.add_argument("--max-segment", type=float, default=d["max_segment"],
                   help="--segments vad: speech segments longer than this (s) are split evenly")
    p.add_argument("--silence-rms", type=float, default=d["silence_rms"],
                   help="the silence gate: windows whose RMS stays below are silence (seed 003: 0.01; 0 turns it off)")
    p.add_argument("--min-seconds", type=float, default=d["min_seconds"], help="shorter files go to the error table")
    p.add_argument("--max-seconds", type=float, default=d["max_seconds"], help="longer files go to the error table")
    p.add_argument("--smoothing", default=d["smoothing"], help="smooth segment probabilities over time: none, ema, "
                   "majority (the Space's live options; reset after silence)")
    p.add_argument("--smoothing-alpha", type=float, default=d["smoothing_alpha"], help="ema weight of the newest segment")
    p.add_argument("--smoothing-window", type=int, default=d["smoothing_window"], help="majority: segments voted over")
    p.add_argument("--batch-size", type=int, default=d["batch_size"], help="clips per forward pass")
    p.add_argument("--batch-seconds", type=float, default=d["batch_seconds"],
                   help="at most this much padded audio (s) per forward pass")
    p.add_argument("--workers", type=int, default=d["workers"], help="decoding processes beside the model (0: decode inline)")
    p.add_argument("--streams", default=d["streams"], help="model replicas running batches at once, the threads "
                   "shared among them (auto: 2 on a CPU, 1 on a GPU; on CPU, one thread per stream keeps cores busy "
                   "where intra-op threads wait on each other)")
    p.add_argument("--device", default="auto", help="cpu, cuda, cuda:N or auto (under accelerate launch: each "
                   "process's own GPU)")
    p.add_argument("--precision", choices=PRECISIONS, default=d["precision"],
                   help="fp32 (default): what pipeline('audio-classification') computes, label for label; fast: "
                        "int8 Linear + bf16 CNN on CPU, bf16 autocast on a GPU; auto: fast on CPU, fp32 on a GPU")
    p.add_argument("--threads", type=int, default=None, help="torch / onnxruntime threads (default: theirs)")
    p.add_argument("--plots", default=None, metavar="DIR", help="a timeline PNG per segmented recording")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.add_argument("--peer-timeout", type=float, default=120.0, help="under accelerate launch: a process that shows no "
                   "sign of life for this long (frozen, its machine cut off) stops the others, named (as train.py)")
    return p


def check_args(args, parser) -> None:
    """Every value's range, in one line naming the option, before anything is read."""
    positive = ("long_seconds", "window", "hop", "max_segment", "max_seconds", "batch_seconds")
    for name in positive:
        if not getattr(args, name) > 0:
            parser.error(f"--{name.replace('_', '-')} must be positive, got {getattr(args, name)}")
    for name in ("silence_rms", "min_seconds"):
        if not getattr(args, name) >= 0:
            parser.error(f"--{name.replace('_', '-')} must be >= 0, got {getattr(args, name)}")
    if args.batch_size < 1:
        parser.error(f"--batch-size must be at least 1, got {args.batch_size}")
    if args.workers < 0:
        parser.error(f"--workers must be >= 0, got {args.workers}")
    if args.streams != "auto" and (not args.streams.isdigit() or int(args.streams) < 1):
        parser.error(f"--streams must be auto or a whole number >= 1, got {args.streams!r}")
    if args.peer_timeout < 5:
        parser.error(f"--peer-timeout must be at least 5 seconds, got {args.peer_timeout}")
    if args.threads is not None and args.threads < 1:
        parser.error(f"--threads must be at least 1, got {args.threads}")
    if args.min_seconds >= args.max_seconds:
        parser.error(f"--min-seconds {args.min_seconds} must be below --max-seconds {args.max_seconds}")
    suffix = Path(args.out).suffix.lower()
    if suffix and suffix not in OUTPUT_FORMATS and not Path(args.out).is_dir():
        parser.error(f"--out {args.out}: write .csv, .jsonl, .parquet, or a folder name without an extension")
    if args.label_view:
        from ser_hf.data.labels import LABEL_SETS

        if args.label_view not in LABEL_SETS:
            parser.error(f"--label-view {args.label_view!r}: choose one of {', '.join(LABEL_SETS)}")
    from ser_hf.inference import ProbabilitySmoother

    try:
        ProbabilitySmoother(args.smoothing, args.smoothing_alpha, args.smoothing_window)
    except ValueError as err:
        parser.error(f"--{err}")  # "smoothing method 'x': choose one of ..." names the option


def _distributed(device: str):
    """(rank, world size, accelerate state or None): several processes only under accelerate launch / torchrun."""
    if int(os.environ.get("WORLD_SIZE", "1")) <= 1:
        return 0, 1, None
    import torch
    from accelerate import PartialState

    # gloo between CPU processes (PartialState() alone would see no GPU and stay one process)
    state = PartialState(cpu=device == "cpu" or (device == "auto" and not torch.cuda.is_available()))
    return state.process_index, state.num_processes, state


def _watched(paths, state, peer_timeout: float):
    """Several processes: each keeps a status file under ``OUT.parts/launch-<id>/`` and watches the others'
    (:class:`ser_hf.guards.Job`, as train.py's processes do), so one that raises, is killed or freezes stops them all,
    named, within ``peer_timeout`` + 15 s, instead of leaving the main process waiting for its share for ever. The
    sync points are on files: a legitimately slow share keeps the others waiting as long as its process lives."""
    import torch.distributed as dist

    from ser_hf.guards import Job, new_launch_id

    shared = [new_launch_id() if state.process_index == 0 else None]
    dist.broadcast_object_list(shared, src=0)  # the one collective: every process is just starting
    folder = paths.parts / f"launch-{shared[0]}"
    return Job(folder, state.process_index, state.num_processes, state.local_process_index, peer_timeout).start()


def _device(requested: str, state) -> str:
    import torch

    if requested != "auto":
        return requested
    if state is not None:
        return str(state.device)
    return "cuda" if torch.cuda.is_available() else "cpu"


def _prepare_resume(paths, columns: list[str]) -> int:
    """Main process, before the others start: an existing output becomes a journal (its inputs are skipped) and
    the last launch's done markers go. Returns how many inputs the output already holds."""
    from ser_hf.predict.output import OutputError, read_output

    existing, records = read_output(paths)
    if existing is not None and existing != columns:
        raise OutputError(f"{paths.out} was written with other models or classes (columns {existing[:8]}...); "
                          "give another --out, or the same --model list as before")
    paths.parts.mkdir(parents=True, exist_ok=True)
    prev = paths.parts / "journal-prev.jsonl"
    if records and not prev.exists():
        tmp = prev.with_suffix(".tmp")
        tmp.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records))
        os.replace(tmp, prev)
    for marker in paths.parts.glob("done-*.json"):
        marker.unlink()
    for folder in paths.parts.glob("launch-*"):  # status files of earlier launches (this one's is newer)
        if not (folder / "rank-0.json").exists() or (folder / "rank-0.json").stat().st_mtime < time.time() - 3600:
            shutil.rmtree(folder, ignore_errors=True)
    return len(records)


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    check_args(args, parser)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    launched = time.perf_counter()

    from ser_hf.predict.inputs import InputError, collect_inputs
    from ser_hf.predict.models import ModelError, Predictor, parse_models
    from ser_hf.predict.output import Journal, OutputError, OutputPaths, read_journals
    from ser_hf.predict.report import finish_run
    from ser_hf.predict.run import RowBuilder, Settings, predict_process
    from ser_hf.predict.segments import resolve_vad

    paths = OutputPaths.of(args.out)
    try:
        inputs = collect_inputs(args.inputs, args.split, args.path_column, args.label_column)
        specs = parse_models(args.model)
        vad = resolve_vad(args.vad) if args.segments == "vad" else "energy"
    except (InputError, ModelError, ValueError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    rank, world, state = _distributed(args.device)
    device = _device(args.device, state)
    import torch

    # torch's threads: the CPUs this process may use, or OMP_NUM_THREADS (1 per process under torchrun)
    streams = resolve_streams(args.streams, device, args.threads or torch.get_num_threads())
    threads = max(1, (args.threads or torch.get_num_threads()) // streams) if device == "cpu" else args.threads
    if threads:
        torch.set_num_threads(threads)
    precision = resolve_precision(args.precision, device)
    try:
        predictor = Predictor(specs, device, precision, args.label_view, args.batch_size, threads)
    except ModelError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    settings = Settings(segments=args.segments, vad=vad, long_seconds=args.long_seconds, window=args.window,
                        hop=args.hop, max_segment=args.max_segment, silence_rms=args.silence_rms,
                        min_seconds=args.min_seconds, max_seconds=args.max_seconds, smoothing=args.smoothing,
                        smoothing_alpha=args.smoothing_alpha, smoothing_window=args.smoothing_window,
                        batch_size=args.batch_size, batch_seconds=args.batch_seconds, workers=args.workers,
                        streams=streams, plots=args.plots)
    columns = RowBuilder(predictor.names, predictor.classes, settings).columns
    job = _watched(paths, state, args.peer_timeout) if state is not None else None
    try:
        if rank == 0:
            try:
                already = _prepare_resume(paths, columns)
            except OutputError as err:
                print(f"error: {err}", file=sys.stderr)
                if job is not None:
                    job.fail(err)  # the others stop, naming it, instead of waiting for rank 0
                return 2
            if already:
                logger.info("%s holds %d input(s) already: they are skipped", paths.out, already)
        if job is not None:
            job.barrier("output prepared")
        done = {r["key"] for r in read_journals(paths.parts)}
        journal = Journal(paths.parts, rank)
        loaded = time.perf_counter()
        try:
            counts = predict_process(inputs, predictor, settings, journal, done, rank, world,
                                     progress=not args.no_progress)
        finally:
            journal.close()
        (paths.parts / f"done-{rank}.json").write_text(json.dumps(counts))
        if job is not None:
            job.barrier("shares written")
    except BaseException as err:
        peer = job.fail(err) if job is not None else None
        if peer is None:
            raise  # this process's own failure, now reported to the others
        job.finish(state=None)
        # Another process's failure explains this one's: name it, and end now (tearing down a process group with a
        # frozen peer can block). Every finished input is in this process's journal: a relaunch skips it.
        print(f"ser-hf predict: {peer}", file=sys.stderr, flush=True)
        sys.stdout.flush()
        os._exit(1)
    finally:
        if job is not None:
            job.finish()
    if state is not None:
        from ser_hf.guards import close_process_group

        close_process_group()  # every share is written; rank 0 merges them on files
    if rank != 0:
        return 0
    launch = [json.loads((paths.parts / f"done-{r}.json").read_text()) for r in range(world)]
    processed = sum(c["audio_seconds"] for c in launch)
    wall = time.perf_counter() - loaded
    summary = {
        "models": predictor.sources, "classes": predictor.classes, "label_view": args.label_view,
        "device": device, "precision": precision, "processes": world, "threads_per_stream": threads,
        "settings": asdict(settings),
        "padded_batches": predictor.padded_batches,
        "this_launch": {"inputs_skipped": len(done), "files": sum(c["files"] for c in launch),
                        "errors": sum(c["errors"] for c in launch), "audio_seconds": round(processed, 3),
                        "load_seconds": round(loaded - launched, 3), "seconds": round(wall, 3),
                        "audio_seconds_per_second": round(processed / wall, 3) if wall > 0 else None},
    }
    summary = finish_run(paths, columns, read_journals(paths.parts), {it.key: it.index for it in inputs.items},
                         predictor.names, predictor.classes, summary)
    if job is not None:  # the others may still be watching the status files under paths.parts
        job.wait_for_others_to_finish(args.peer_timeout)
    shutil.rmtree(paths.parts, ignore_errors=True)
    errors = ", ".join(f"{k} {v}" for k, v in sorted(summary["errors_by_kind"].items()))
    print(f"{summary['predicted']} of {summary['inputs']} inputs labelled ({summary['audio_seconds']:.0f} s of audio; "
          f"this launch {summary['this_launch']['audio_seconds_per_second']} audio-s/s) -> {paths.out}"
          + (f"; errors: {errors} (see {paths.errors or paths.out})" if errors else ""))
    if "metrics" in summary:
        for name, m in summary["metrics"].items():
            print(f"{name}: accuracy {100 * m['accuracy']:.2f} %, UAR {100 * m['uar']:.2f} % on {m['n']} labelled files")
    return 0 if summary["predicted"] > 0 else 1


if __name__ == "__main__":
    sys.exit(main())
