"""Beyond one machine: ``train.py`` as two "nodes" under ``accelerate launch`` (the shipped multi-node config,
static rendezvous on 127.0.0.1, gloo on CPU, one process per node), killed and relaunched."""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

import train

ROOT = Path(__file__).resolve().parents[2]
# As tests/training/test_train.py: two tiny synthetic corpora (English + Bengali), a few steps on 2 CPU cores.
TINY_RUN = [
    "corpora=ravdess,subesco", "synthetic_size=tiny", "per_device_train_batch_size=8",
    "per_device_eval_batch_size=16", "max_train_seconds=2.0", "dataloader_num_workers=0", "logging_steps=1",
    "max_steps=8", "eval_strategy=steps", "eval_steps=4", "early_stopping_patience=null", "save_total_limit=3",
]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def launch_node(rank: int, port: int, args: list[str], log: Path, env: dict,
                config: str = "multi_node.yaml") -> subprocess.Popen:
    """One "machine" of a two-machine job: what recipes/slurm/train.sbatch runs on node ``rank``."""
    cmd = [sys.executable, "-m", "accelerate.commands.launch", "--config_file",
           str(ROOT / "recipes/accelerate" / config), "--num_machines", "2", "--num_processes", "2",
           "--machine_rank", str(rank), "--main_process_ip", "127.0.0.1", "--main_process_port", str(port),
           "--mixed_precision", "no", "--dynamo_backend", "no", str(ROOT / "train.py"), *args]
    return subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=log.open("w"), stderr=subprocess.STDOUT,
                            start_new_session=True)


def process_tree(pid: int) -> list[int]:
    """``pid`` and every process below it (from /proc: no psutil needed)."""
    children: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:  # gone meanwhile
            continue
        children.setdefault(int(fields[1]), []).append(int(stat.parent.name))
    tree, todo = [], [pid]
    while todo:
        tree.append(todo.pop())
        todo.extend(children.get(tree[-1], []))
    return tree


def kill(procs: list[subprocess.Popen]) -> None:
    """SIGKILL every process of each node at once: what a pre-empted or crashed machine does. torchrun starts
    its workers in sessions of their own, so killing the launcher's process group would orphan them."""
    for pid in [p for proc in procs if proc.poll() is None for p in process_tree(proc.pid)]:
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    for proc in procs:
        proc.wait()


def wait_all(procs: list[subprocess.Popen], logs: list[Path], timeout: float) -> None:
    """Every process ends with exit status 0 within ``timeout`` seconds; whatever is left is killed."""
    try:
        for proc, log in zip(procs, logs):
            assert proc.wait(timeout=timeout) == 0, log.read_text()[-4000:]
    finally:
        kill(procs)


def kill_after_checkpoint(procs: list[subprocess.Popen], logs: list[Path], out: Path, step: int = 4,
                          timeout: float = 400) -> int:
    """SIGKILL ``procs`` once checkpoint-``step`` is complete; the step of the newest complete checkpoint."""
    deadline = time.time() + timeout
    try:
        while not (out / f"checkpoint-{step}" / "trainer_state.json").is_file():
            for proc, log in zip(procs, logs):
                assert proc.poll() is None, log.read_text()[-4000:]
            assert time.time() < deadline, "no checkpoint in time"
            time.sleep(0.2)
    finally:
        kill(procs)
    assert not (out / "results.json").exists(), "killed before the end"
    return max(int(p.name.split("-")[1]) for p in out.glob("checkpoint-*") if (p / "trainer_state.json").is_file())


def assert_follows_one_process(out: Path, results: dict, single_out: Path) -> None:
    """The 8-step two-process run in ``out`` (``results``: its results.json) against one process training on the
    same global batches into ``single_out``."""
    # One process on the same global batches: a step of 2 x 8 clips is here 2 accumulated batches of 8, in the
    # order the seeded sampler gives both runs (process 0 took batch 0, process 1 batch 1 of each pair).
    single = train.main(["--recipe", "quickstart", f"output_dir={single_out}", *TINY_RUN,
                         "gradient_accumulation_steps=2"])
    state = json.loads((out / "trainer_state.json").read_text())
    single_state = json.loads((single_out / "trainer_state.json").read_text())
    assert state["epoch"] == pytest.approx(1.0)  # 8 steps x 2 processes x 8 clips: the 124 training clips once
    history = {"two processes": state["log_history"], "one process": single_state["log_history"]}
    loss = {run: {e["step"]: e["loss"] for e in h if "loss" in e} for run, h in history.items()}
    eval_loss = {run: {e["step"]: e["eval_loss"] for e in h if "eval_loss" in e} for run, h in history.items()}
    # one history over both launches
    assert sorted(loss["two processes"]) == sorted(loss["one process"]) == list(range(1, 9))
    # Tolerance. Both runs start from the same weights and see the same 16 clips per step (a seeded sampler), and
    # DDP's all-reduce (FSDP's reduce-scatter) averages the two processes' batch means as gradient accumulation
    # averages the two batch means: the same gradient function. What differs is the randomness each process draws
    # from its own torch stream: the random 2-s crop of longer clips, SpecAugment time masks (p 0.05), dropout (0.1)
    # and LayerDrop (0.1) of the tiny HuBERT. Measured (2 CPU cores; DDP, FSDP2): step 1, on identical weights,
    # 0.09 %, 0.09 % apart; steps 1-8 at most 0.9 %, 0.85 %; the validation loss (deterministic given the weights)
    # 0.04 %, 0.03 %. Bounds with
    # ~3x-10x margin: 1 % at step 1, 3 % per step, 1 % on validation. The test metrics of this 8-step tiny model sit
    # at chance (one class predicted), so they must agree up to a few of the 37 test clips: 0.15 (5 clips).
    one, two = loss["one process"], loss["two processes"]
    assert two[1] == pytest.approx(one[1], rel=0.01)
    for step in one:
        assert two[step] == pytest.approx(one[step], rel=0.03), (step, two, one)
    for step in (4, 8):
        assert eval_loss["two processes"][step] == pytest.approx(eval_loss["one process"][step], rel=0.01), eval_loss
    for key in ("accuracy", "uar", "macro_f1"):
        assert abs(results["test"][key] - single["test"][key]) <= 0.15, (key, results["test"], single["test"])
    assert results["split_sizes"] == json.loads((single_out / "results.json").read_text())["split_sizes"]


@pytest.mark.slow
def test_two_nodes_match_one_process_and_resume_after_both_are_killed(tmp_path):
    out = tmp_path / "two_nodes"
    # A cache of their own, empty: the corpora are prepared during this launch, by node 0 alone.
    env = {**os.environ, "PYTHONUNBUFFERED": "1", "TOKENIZERS_PARALLELISM": "false",
           "SER_HF_CACHE": str(tmp_path / "cache"), "OMP_NUM_THREADS": "1"}
    args = ["--recipe", "quickstart", f"output_dir={out}", *TINY_RUN]
    logs = [tmp_path / f"node{rank}.log" for rank in (0, 1)]
    port = free_port()
    nodes = [launch_node(rank, port, args, logs[rank], env) for rank in (0, 1)]
    killed_at = kill_after_checkpoint(nodes, logs, out)
    assert killed_at < 8
    first = [log.read_text() for log in logs]
    assert "[rank 0] INFO train: process rank 0 of world size 2" in first[0]
    assert "[rank 1] INFO train: process rank 1 of world size 2" in first[1]
    # prepare_on: shared (the default): node 0 prepared the corpora, node 1 waited and read node 0's cache.
    assert "using cached preparation" not in first[0]
    assert first[1].count("using cached preparation") == 2  # ravdess and subesco

    port = free_port()  # the same command again, on both nodes
    wait_all([launch_node(rank, port, args, logs[rank], env) for rank in (0, 1)], logs, timeout=400)
    second = [log.read_text() for log in logs]
    for rank in (0, 1):
        assert f"[rank {rank}] INFO train: resuming from {out / f'checkpoint-{killed_at}'} (global step {killed_at})" in second[rank]
    assert "results written to" in second[0] and "[rank 1] INFO train: rank 1 done" in second[1]
    two_nodes = json.loads((out / "results.json").read_text())
    assert two_nodes["run"]["world_size"] == 2 and two_nodes["run"]["global_step"] == 8
    assert two_nodes["run"]["steps_this_launch"] == 8 - killed_at
    assert two_nodes["test"]["n"] == two_nodes["split_sizes"]["test"]  # gathered: every test clip once

    assert_follows_one_process(out, two_nodes, tmp_path / "single")


@pytest.mark.slow
def test_two_nodes_meet_through_a_c10d_rendezvous_and_prepare_on_their_own_disks(tmp_path):
    """recipes/accelerate/multi_node_c10d.yaml (torchrun's dynamic rendezvous: a TCP store at host:port), with
    prepare_on=node and a node-local $SER_HF_CACHE each: both nodes prepare, neither reads the other's cache."""
    out, port = tmp_path / "c10d", free_port()
    args = ["--recipe", "quickstart", f"output_dir={out}", *TINY_RUN, "max_steps=2", "eval_steps=2", "prepare_on=node"]
    logs = [tmp_path / f"node{rank}.log" for rank in (0, 1)]
    nodes = [launch_node(rank, port, args, logs[rank], {
        **os.environ, "PYTHONUNBUFFERED": "1", "TOKENIZERS_PARALLELISM": "false", "OMP_NUM_THREADS": "1",
        "SER_HF_CACHE": str(tmp_path / f"local_disk_{rank}")}, "multi_node_c10d.yaml") for rank in (0, 1)]
    wait_all(nodes, logs, timeout=300)
    text = [log.read_text() for log in logs]
    assert "INFO train: process rank 0 of world size 2" in text[0] + text[1]
    assert "INFO train: process rank 1 of world size 2" in text[0] + text[1]
    for rank in (0, 1):
        assert "using cached preparation" not in text[rank]  # each node prepared on its own disk
        assert any((tmp_path / f"local_disk_{rank}" / "prepared").iterdir())
    assert json.loads((out / "results.json").read_text())["run"]["world_size"] == 2


def test_prepare_on_and_train_shards_are_checked_at_parse_time():
    from ser_hf.recipe import RecipeError, load_recipe

    assert load_recipe("quickstart").data.prepare_on == "shared"
    assert load_recipe("quickstart", ["prepare_on=node"]).data.prepare_on == "node"
    with pytest.raises(RecipeError, match="prepare_on: 'everywhere' is not one of shared, node"):
        load_recipe("quickstart", ["prepare_on=everywhere"])
    with pytest.raises(RecipeError, match="train_shards: a streamed training part has no length; set max_steps"):
        load_recipe("quickstart", ["train_shards=/data/shards"])
    with pytest.raises(RecipeError, match="train_shards: balance=oversample and augment_offline_factor=1 need the whole"):
        load_recipe("quickstart", ["train_shards=/data/shards", "max_steps=10", "balance=oversample"])
    with pytest.raises(RecipeError, match="augment_offline_factor=5 need the whole training part"):
        load_recipe("hubert_bilingual", ["train_shards=/data/shards", "max_steps=10"])


# ---------------------------------------------------------------- distributed extraction
EXTRACT_SCRIPT = """
import logging, sys
from pathlib import Path
import datasets, numpy as np, torch
from accelerate import PartialState
from ser_hf.data.audio import encode_wav
from ser_hf.recipe import load_recipe
from ser_hf.training.probe import build_encoder_extractor
from ser_hf.features.extract import extract

logging.basicConfig(level=logging.INFO, format="[rank %(process)d] %(message)s")
state = PartialState(cpu=True)  # gloo when launched as several processes; alone otherwise
cache, out = Path(sys.argv[1]), Path(sys.argv[2])
sr = 16000
rows = []
for i in range(11):  # 11 files: shards of 6 and 5 (of the 8 missing: 4 and 4)
    t = np.arange(int((0.4 + 0.1 * i) * sr)) / sr
    wave = (0.3 * np.sin(2 * np.pi * (150 + 37 * i) * t)).astype(np.float32)
    rows.append({"audio": {"bytes": encode_wav(wave, sr), "path": None}, "label": i % 3})
ds = datasets.Dataset.from_list(rows).cast_column("audio", datasets.Audio(decode=False))
extractor = build_encoder_extractor(load_recipe("quickstart", ["method=probe", "tiny_model=hubert"]))
# batch_size=1: each file is one forward pass alone in both runs (batching changes padding, and BLAS blocking
# with the batch size), so equal inputs must give bit-equal outputs.
cached = extract(ds, extractor, cache_dir=cache, batch_size=1, progress=False)
uncached = extract(ds, extractor, batch_size=1, use_cache=False, progress=False)
np.savez(out / f"rank{state.process_index}.npz", cached=cached.features, index=cached.file_index,
         uncached=uncached.features)
state.destroy_process_group()  # as train.py and predict do when they end well (gloo's threads can abort at exit)
"""


@pytest.mark.slow
def test_distributed_extraction_gives_the_single_process_embeddings_in_row_order(tmp_path):
    script = tmp_path / "extract_all.py"
    script.write_text(EXTRACT_SCRIPT)
    env = {**os.environ, "PYTHONUNBUFFERED": "1", "OMP_NUM_THREADS": "1", "PYTHONPATH": str(ROOT)}
    single, dist = tmp_path / "single", tmp_path / "dist"
    for d in (single, dist):
        d.mkdir()
    run = subprocess.run([sys.executable, str(script), str(single / "cache"), str(single)], env=env, cwd=ROOT,
                         capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr[-3000:]
    assert "11 of 11 files extracted (0 from the cache)" in run.stderr
    # Three files already in the distributed run's cache: only the 8 others are sharded.
    (folder,) = (single / "cache").iterdir()
    for npy in sorted(folder.rglob("*.npy"))[:3]:
        target = dist / "cache" / folder.name / npy.relative_to(folder)
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(npy.read_bytes())
    launcher = [sys.executable, "-m", "accelerate.commands.launch", "--multi_gpu", "--num_processes", "2",
                "--num_machines", "1", "--mixed_precision", "no", "--dynamo_backend", "no",
                "--main_process_port", str(free_port())]
    run = subprocess.run([*launcher, str(script), str(dist / "cache"), str(dist)], env=env, cwd=ROOT,
                         capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr[-3000:]
    assert run.stderr.count("8 of 11 files extracted (3 from the cache, 4 by this process of 2)") == 2
    assert run.stderr.count("11 of 11 files extracted (0 from the cache, 6 by this process of 2)") == 1
    reference = np.load(single / "rank0.npz")
    assert reference["cached"].shape[0] == 11 and np.array_equal(reference["index"], np.arange(11))
    for rank in (0, 1):
        got = np.load(dist / f"rank{rank}.npz")
        assert np.array_equal(got["index"], reference["index"])
        assert np.array_equal(got["cached"], reference["cached"])  # bit-equal, same row order
        assert np.array_equal(got["uncached"], reference["cached"])  # all-gathered without a cache: the same
    assert len(list((dist / "cache").rglob("*.npy"))) == 11


# ---------------------------------------------------------------- large encoders
def test_fsdp2_gets_one_unit_per_encoder_layer_and_no_token_embeddings():
    """What fit_for_fsdp2 gives accelerate's FSDP2 preparation (fsdp.yaml: TRANSFORMER_BASED_WRAP, no class named),
    for every encoder type; a class named in the config is kept."""
    from accelerate.utils import FullyShardedDataParallelPlugin
    from accelerate.utils.fsdp_utils import fsdp2_prepare_auto_wrap_policy
    from transformers import AutoModelForAudioClassification

    from ser_hf.models.audio_encoders import TINY_TYPES, tiny_config
    from ser_hf.training.trainer import fit_for_fsdp2

    layers = {"hubert": "HubertEncoderLayer", "wav2vec2": "Wav2Vec2EncoderLayer", "wavlm": "WavLMEncoderLayer",
              "data2vec-audio": "Data2VecAudioEncoderLayer", "whisper": "WhisperEncoderLayer",
              "audio-spectrogram-transformer": "ASTLayer"}
    for model_type in TINY_TYPES:
        model = AutoModelForAudioClassification.from_config(tiny_config(model_type, ["a", "b"]))
        plugin = FullyShardedDataParallelPlugin(fsdp_version=2, auto_wrap_policy="transformer_based_wrap")
        fit_for_fsdp2(model, plugin)
        assert plugin.transformer_cls_names_to_wrap == [layers[model_type]]
        model.get_input_embeddings()  # None (or Whisper's conv), not NotImplementedError
        policy = fsdp2_prepare_auto_wrap_policy(plugin, model)
        units = [name for name, module in model.named_modules() if policy(module)]
        assert len(units) == 2 and all(name[-1] in "01" for name in units), units  # the tiny models' 2 layers
    named = FullyShardedDataParallelPlugin(fsdp_version=2, auto_wrap_policy="transformer_based_wrap",
                                           transformer_cls_names_to_wrap=["HubertAttention"])
    fit_for_fsdp2(AutoModelForAudioClassification.from_config(tiny_config("hubert", ["a", "b"])), named)
    assert named.transformer_cls_names_to_wrap == ["HubertAttention"]


def launch_fsdp(args: list[str], log: Path, env: dict) -> subprocess.Popen:
    """recipes/accelerate/fsdp.yaml as shipped, as two processes of this machine (gloo on CPU)."""
    cmd = [sys.executable, "-m", "accelerate.commands.launch", "--config_file",
           str(ROOT / "recipes/accelerate/fsdp.yaml"), "--num_processes", "2", "--mixed_precision", "no",
           "--dynamo_backend", "no", "--main_process_port", str(free_port()), str(ROOT / "train.py"), *args]
    return subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=log.open("w"), stderr=subprocess.STDOUT,
                            start_new_session=True)


@pytest.mark.slow
def test_fsdp_config_shards_on_cpu_resumes_after_a_kill_and_follows_one_process(tmp_path):
    """accelerate 1.15 runs an FSDP config as plain DDP on CPU; SERTrainer puts FSDP2 back (shard_with_fsdp2_on_cpu):
    each process holds half of every parameter (DTensor shards, one FSDP unit per encoder layer) and writes its
    shard of each checkpoint. Killed after its step-4 checkpoint, the same command resumes from the shards and
    ends; the final model is gathered whole for pipeline(), and the run follows one process on the same batches."""
    from transformers import pipeline

    out = tmp_path / "fsdp"
    env = {**os.environ, "PYTHONUNBUFFERED": "1", "TOKENIZERS_PARALLELISM": "false", "OMP_NUM_THREADS": "1"}
    args = ["--recipe", "quickstart", f"output_dir={out}", *TINY_RUN]
    first_log, second_log = tmp_path / "first.log", tmp_path / "second.log"
    killed_at = kill_after_checkpoint([launch_fsdp(args, first_log, env)], [first_log], out)
    assert killed_at < 8

    first = first_log.read_text()
    assert "plain data-parallel" not in first and "FSDP2: one unit per HubertEncoderLayer" in first
    held = {int(rank): (int(n), int(total)) for rank, n, total in re.findall(
        r"\[rank (\d)\] INFO ser_hf\.training\.trainer: this process holds (\d+) of the model's (\d+)", first)}
    total = held[0][1]
    assert sorted(held) == [0, 1] and held[0][0] + held[1][0] == total  # the two shards make up the model
    assert all(abs(n - total / 2) <= 0.01 * total for n, _ in held.values()), held
    for part in ("pytorch_model_fsdp_0", "optimizer_0"):  # a sharded checkpoint: one file per process
        shards = sorted(f.name for f in (out / "checkpoint-4" / part).glob("*.distcp"))
        assert shards == ["__0_0.distcp", "__1_0.distcp"], shards

    wait_all([launch_fsdp(args, second_log, env)], [second_log], timeout=400)  # the same command again
    second = second_log.read_text()
    for rank in (0, 1):
        assert f"[rank {rank}] INFO train: resuming from {out / f'checkpoint-{killed_at}'} (global step {killed_at})" \
            in second
        assert f"[rank {rank}] INFO ser_hf.training.trainer: this process holds {held[rank][0]} of" in second
    results = json.loads((out / "results.json").read_text())
    assert results["run"]["world_size"] == 2 and results["run"]["global_step"] == 8
    assert results["run"]["steps_this_launch"] == 8 - killed_at
    classifier = pipeline("audio-classification", model=str(out), device=-1)  # gathered whole at the end
    scores = classifier({"raw": np.zeros(16000, dtype=np.float32), "sampling_rate": 16000}, top_k=None)
    assert len(scores) == 7
    assert_follows_one_process(out, results, tmp_path / "single")


@pytest.mark.slow
def test_probe_method_extracts_on_two_processes_and_fits_once(tmp_path):
    """train.py method=probe under accelerate: each process extracts its shard, the main process fits; the result
    is the single-process run's."""
    import shutil

    # per_device_eval_batch_size=1: a file's embedding does not depend on which files share its batch (padding), so
    # both runs fit the probe on bit-equal tables (test_distributed_extraction_... checks that). The fit itself runs
    # here on pytest's threads and there on one (OMP_NUM_THREADS=1): float sums in another order, so the learned
    # weights agree to ~1e-7, not bit for bit; predictions, hence metrics, are the same.
    args = ["--recipe", "quickstart", "method=probe", "corpora=[emodb]", "synthetic=true", "synthetic_size=tiny",
            "dataloader_num_workers=0", "probe_epochs=20", "split=seed000", "per_device_eval_batch_size=1",
            "plots=false", "seed=7"]
    embeddings = Path(os.environ["SER_HF_CACHE"]) / "embeddings"
    before = set(embeddings.iterdir()) if embeddings.is_dir() else set()
    single = train.main([*args, f"output_dir={tmp_path / 'single'}"])
    extracted = set(embeddings.iterdir()) - before
    assert extracted, "the single run extracted (seed 7: no earlier test's encoder)"
    for folder in extracted:  # the two processes must extract again, not read the single run's cache
        shutil.rmtree(folder)
    env = {**os.environ, "PYTHONUNBUFFERED": "1", "OMP_NUM_THREADS": "1"}
    launcher = [sys.executable, "-m", "accelerate.commands.launch", "--multi_gpu", "--num_processes", "2",
                "--num_machines", "1", "--mixed_precision", "no", "--dynamo_backend", "no",
                "--main_process_port", str(free_port())]
    log = tmp_path / "probe.log"
    run = subprocess.run([*launcher, str(ROOT / "train.py"), *args, f"output_dir={tmp_path / 'two'}"], cwd=ROOT,
                         env=env, stdout=log.open("w"), stderr=subprocess.STDOUT, timeout=400)
    text = log.read_text()
    assert run.returncode == 0, text[-4000:]
    assert text.count("by this process of 2)") >= 4  # train and test parts, on both ranks
    assert "[rank 1] INFO ser_hf.training.probe: rank 1 done" in text
    two = json.loads((tmp_path / "two" / "results.json").read_text())
    assert two["layer_weights"] == pytest.approx(single["layer_weights"], abs=1e-5)
    for key in ("accuracy", "uar", "macro_f1", "n"):
        assert two["test"][key] == single["test"][key]


# ---------------------------------------------------------------- streamed, sharded corpora
RECORDING_TRAIN = """
import os, sys
import xxhash
from ser_hf.training.trainer import AudioCollator

call = AudioCollator.__call__
def recording_call(self, rows):  # every training row a process batches, by a hash of its audio
    if self.train:
        with open(os.path.join(os.environ["SEEN_DIR"], f"rank{os.environ['RANK']}.txt"), "a") as f:
            f.writelines(xxhash.xxh3_64_hexdigest(r["audio"]["bytes"]) + chr(10) for r in rows)
    return call(self, rows)
AudioCollator.__call__ = recording_call
import train
train.main(sys.argv[1:])
"""


@pytest.mark.slow
def test_streamed_sharded_training_part_is_seen_once_per_epoch_across_two_processes(tmp_path):
    import datasets
    import xxhash

    from ser_hf.data.shards import write_parquet_shards
    from ser_hf.recipe import load_recipe
    from ser_hf.training.data import prepare_data

    run_args = [*TINY_RUN, "max_steps=8", "eval_steps=8"]
    # The recipe's own training part (124 clips) as 4 Parquet shards of 31: two files per process, 62 clips,
    # 8 batches of 8 (the last of 6): max_steps=8 is one epoch on each process.
    data = prepare_data(load_recipe("quickstart", run_args))
    train_part = data.splits["train"]
    write_parquet_shards(datasets.DatasetDict(train=train_part), tmp_path / "shards", num_shards=4)
    expected = sorted(xxhash.xxh3_64_hexdigest(a["bytes"])
                      for a in train_part.cast_column("audio", datasets.Audio(decode=False))["audio"])
    assert len(expected) == 124 and len(set(expected)) == 124

    script = tmp_path / "recording_train.py"
    script.write_text(RECORDING_TRAIN)
    seen = tmp_path / "seen"
    seen.mkdir()
    env = {**os.environ, "PYTHONUNBUFFERED": "1", "OMP_NUM_THREADS": "1", "SEEN_DIR": str(seen), "PYTHONPATH": str(ROOT)}
    launcher = [sys.executable, "-m", "accelerate.commands.launch", "--multi_gpu", "--num_processes", "2",
                "--num_machines", "1", "--mixed_precision", "no", "--dynamo_backend", "no",
                "--main_process_port", str(free_port())]
    out, log = tmp_path / "run", tmp_path / "stream.log"
    proc = subprocess.run([*launcher, str(script), "--recipe", "quickstart", f"output_dir={out}", *run_args,
                           f"train_shards={tmp_path / 'shards'}"], cwd=ROOT, env=env, stdout=log.open("w"),
                          stderr=subprocess.STDOUT, timeout=400)
    assert proc.returncode == 0, log.read_text()[-4000:]
    assert "training part streamed from" in log.read_text()
    per_rank = [(seen / f"rank{r}.txt").read_text().split() for r in (0, 1)]
    assert [len(rows) for rows in per_rank] == [62, 62]  # each process read its own two files, not all four
    assert not set(per_rank[0]) & set(per_rank[1])
    assert sorted(per_rank[0] + per_rank[1]) == expected  # every training row exactly once in the epoch
    results = json.loads((out / "results.json").read_text())
    assert results["run"]["train_shards"] == str(tmp_path / "shards") and results["run"]["global_step"] == 8
