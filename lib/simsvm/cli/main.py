"""The ``simsvm`` command.

simsvm run parameters/demo-gtzan.yaml [--set epochs=20 --set folds=3]
simsvm batch parameters/demo-*.yaml --name demo [--jobs 2]
simsvm data synth --out data/synth [--clips-per-class 30 --duration 8 --seed 0]
"""

from __future__ import annotations

import argparse
import logging
import sys
import traceback
from collections.abc import Sequence

import yaml

from simsvm.exceptions import ParameterError, SimsvmError
from simsvm.experiment.config import yaml_problem
from simsvm.names import DEFAULT_CELL_TIMEOUT_S

__all__ = ["main"]


def _parse_overrides(pairs: Sequence[str]) -> dict:
    overrides = {}
    for pair in pairs:
        key, separator, value = pair.partition("=")
        if not separator or not key.strip():
            raise ParameterError(f"--set expects key=value, got {pair!r}")
        try:
            overrides[key.strip()] = yaml.safe_load(value)
        except yaml.YAMLError as error:
            raise ParameterError(
                f"--set {pair!r}: the value is not valid YAML ({yaml_problem(error)})"
            ) from None
    return overrides


# Each subcommand imports what it needs when it runs, so that `simsvm --help` and `simsvm data`
# start without importing torch and scikit-learn (several seconds on a small machine).


def _run(args: argparse.Namespace) -> int:
    from simsvm.experiment.config import load_config
    from simsvm.experiment.run import run_experiment

    config = load_config(args.parameters, _parse_overrides(args.set))
    table = run_experiment(config, parameters_file=str(args.parameters))
    final = table[
        (table.epoch == table.epoch.max())
        & (table.metric != "train_loss")
        & (table.target.isin(["all", "mean"]))
    ]
    summary = final.groupby("approach")["value"].agg(["mean", "std"]).round(3)
    print(f"\n{config.name}: {summary.to_string()}\n\nresults: {config.run_dir / 'results.csv'}")
    return 0


def _batch(args: argparse.Namespace) -> int:
    from simsvm.cli.batch import run_batch

    # papermill says what it runs at INFO and forwards a notebook's output as WARNING; the batch
    # draws its own lines, so that stays in the notebooks unless asked for.
    logging.getLogger("papermill").setLevel(logging.INFO if args.verbose else logging.ERROR)
    report = run_batch(
        args.parameters,
        batch=args.name,
        results_dir=args.results_dir,
        jobs=args.jobs,
        summary=not args.no_summary,
        figures_dir=args.figures_dir,
        cell_timeout_s=args.cell_timeout,
        overrides=_parse_overrides(args.set),
        scheduler=args.scheduler,
        workers=args.workers,
        verbose=args.verbose,
    )
    print(report.describe())
    return 1 if report.failed else 0


def _synth(args: argparse.Namespace) -> int:
    from simsvm.data.datasets.synthetic import generate

    folders = generate(
        args.out,
        datasets=tuple(args.datasets),
        clips_per_class=args.clips_per_class,
        duration=args.duration,
        seed=args.seed,
    )
    for key, folder in folders.items():
        print(f"{key}: {folder}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    from simsvm.data.datasets.synthetic import GENERATORS

    parser = argparse.ArgumentParser(prog="simsvm", description=__doc__.split("\n\n")[0])
    parser.add_argument("--debug", action="store_true", help="show the traceback of an error")
    commands = parser.add_subparsers(dest="command", required=True)
    run = commands.add_parser("run", help="run one experiment from a YAML parameter file")
    run.add_argument("parameters", help="YAML parameter file (see README for its keys)")
    run.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="override one parameter (repeatable); VALUE is read as YAML",
    )
    run.set_defaults(handler=_run)
    batch = commands.add_parser(
        "batch", help="run notebooks/experiment.ipynb per parameter file with papermill, then the summary"
    )
    batch.add_argument("parameters", nargs="+", help="YAML parameter files")
    batch.add_argument("--name", default="batch", help="batch folder: <results-dir>/<name>/")
    batch.add_argument("--jobs", type=int, default=1, help="experiments run side by side")
    batch.add_argument("--results-dir", default="results")
    batch.add_argument("--figures-dir", default="figures", help="where the summary writes figures and tables")
    batch.add_argument("--no-summary", action="store_true", help="skip summary.ipynb")
    batch.add_argument(
        "--cell-timeout", type=int, default=DEFAULT_CELL_TIMEOUT_S, help="seconds one notebook cell may run"
    )
    batch.add_argument(
        "--scheduler", help="dask scheduler address (tcp://host:8786): every run's jobs go to that cluster"
    )
    batch.add_argument(
        "--workers",
        type=int,
        help="start a local dask cluster of N worker processes for the batch "
        "(without dask installed: N worker processes per run)",
    )
    batch.add_argument(
        "--verbose",
        action="store_true",
        help="also stream every notebook cell's log and output (papermill's)",
    )
    batch.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="override one parameter in every file (repeatable)",
    )
    batch.set_defaults(handler=_batch)
    data = commands.add_parser("data", help="datasets").add_subparsers(dest="data_command", required=True)
    synth = data.add_parser("synth", help="write generated datasets in the real layouts")
    synth.add_argument("--out", required=True, help="folder; each dataset goes to <out>/<key>/")
    synth.add_argument("--datasets", nargs="+", default=list(GENERATORS), help="default: all five")
    synth.add_argument("--clips-per-class", type=int, default=30, help="the one size knob (see README)")
    synth.add_argument("--duration", type=float, default=8.0, help="seconds per clip")
    synth.add_argument("--seed", type=int, default=0)
    synth.set_defaults(handler=_synth)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command; return its exit status.

    0: done; 1: a run failed (a batch lists which); 2: bad input (a parameter, a data file, a
    results folder), reported in one line that names it.  ``--debug`` adds the traceback.
    """
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    try:
        return args.handler(args)
    except SimsvmError as error:
        if args.debug:
            traceback.print_exc()
        print(f"simsvm: error: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("simsvm: interrupted; finished jobs are kept, run the same command to resume", file=sys.stderr)
        return 130
    except Exception as error:  # a failed run: one line, unless asked for more
        if args.debug:
            traceback.print_exc()
        print(
            f"simsvm: run failed: {type(error).__name__}: {error}".splitlines()[0]
            + " (finished jobs are kept; --debug shows the traceback)",
            file=sys.stderr,
        )
        return 1
