"""``ser-hf``: one console command for the project's command lines (installed by ``pip install -e .``).

    ser-hf prepare --corpus ravdess --root /data/RAVDESS --out prepared/ravdess   # python -m ser_hf.data prepare
    ser-hf synth --corpus ravdess --out /tmp/ravdess_synth --size small            # python -m ser_hf.data.synth
    ser-hf push outputs/quickstart --repo-id ORG/NAME --dry-run                    # python -m ser_hf.publish push
    ser-hf push-dataset prepared/ravdess --repo-id ORG/NAME                        # python -m ser_hf.publish push-dataset
    ser-hf compare RUN_A RUN_B                                                     # python -m ser_hf.evaluation.compare
    ser-hf table RUN_DIR... --out table                                            # python -m ser_hf.evaluation.runs_table
    ser-hf train --recipe quickstart                                               # python -m ser_hf.train
    ser-hf predict recordings/ --model outputs/quickstart --out emotions.csv        # python -m ser_hf.predict
    ser-hf recipes                                                                 # the shipped recipes
    ser-hf recipes show quickstart | ser-hf recipes path accelerate/fsdp.yaml      # one recipe's text / a file's path

Each subcommand hands its arguments unchanged to the module it names, which is imported only then: this
file sits above every layer of the library and loads nothing heavy itself. Nothing here needs the repository:
recipes, accelerate configs, the card template and the Space ship inside the package.
"""

from __future__ import annotations

import sys

COMMANDS = {
    "prepare": "read corpora from their download layout into a DatasetDict (python -m ser_hf.data prepare)",
    "synth": "write the synthetic corpus in a real corpus's layout (python -m ser_hf.data.synth)",
    "push": "push a training run to its own Hub branch (python -m ser_hf.publish push)",
    "push-dataset": "push a prepared DatasetDict to the Hub (python -m ser_hf.publish push-dataset)",
    "push-space": "assemble and push a Gradio Space serving Hub models (python -m ser_hf.publish push-space)",
    "export": "export a trained run to ONNX (python -m ser_hf.export onnx RUN_DIR)",
    "compare": "paired difference of two runs on the same test files, with interval and p-value "
               "(python -m ser_hf.evaluation.compare)",
    "table": "one table of corpora x models from run folders: Markdown, CSV, LaTeX, heat map "
             "(python -m ser_hf.evaluation.runs_table)",
    "predict": "label recordings with trained models: files, folders, manifests, long recordings (python -m ser_hf.predict)",
    "train": "train as a recipe says (python -m ser_hf.train; accelerate launch -m ser_hf.train for several processes)",
    "recipes": "list the shipped recipes; `show NAME` prints one, `path FILE` gives a shipped file's path (accelerate configs)",
}


def usage() -> str:
    width = max(map(len, COMMANDS))
    lines = ["usage: ser-hf COMMAND [ARGS ...]   (ser-hf COMMAND --help for its arguments)", "", "commands:"]
    lines += [f"  {name:<{width}}  {text}" for name, text in COMMANDS.items()]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else list(argv)
    if not args or args[0] in ("-h", "--help"):
        print(usage())
        return 0 if args else 2
    command, rest = args[0], args[1:]
    if command == "prepare":
        from ser_hf.data.cli import main as prepare_main

        return prepare_main(["prepare", *rest])
    if command == "synth":
        from ser_hf.data.synth.__main__ import main as synth_main

        return synth_main(rest)
    if command == "export":
        from ser_hf.export import main as export_main

        return export_main(rest)
    if command == "compare":
        from ser_hf.evaluation.compare import main as compare_main

        return compare_main(rest)
    if command == "table":
        from ser_hf.evaluation.runs_table import main as table_main

        return table_main(rest)
    if command in ("push", "push-dataset", "push-space"):
        from ser_hf.publish.hub import main as publish_main

        return publish_main([command, *rest])
    if command == "predict":
        from ser_hf.predict.cli import main as predict_main

        return predict_main(rest)
    if command == "train":
        from ser_hf.train import cli_main

        return cli_main(rest, prog="ser-hf train")
    if command == "recipes":
        from ser_hf.recipe import recipes_main

        return recipes_main(rest)
    print(f"error: unknown command {command!r}\n{usage()}", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main())
