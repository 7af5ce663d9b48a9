"""The ``simsvm`` command: run experiments, look at their results, generate data.

The parser is built here; each subcommand imports what it needs when it runs, so that
``simsvm --help``, ``simsvm list`` and the inspection commands start without PyTorch or
scikit-learn.  The help texts are plain text: they are read in a terminal.
"""

from __future__ import annotations

import argparse
import logging
import signal
import sys
import threading
import traceback
from collections.abc import Sequence
from pathlib import Path

import yaml

from simsvm._version import __version__
from simsvm.exceptions import ParameterError, SimsvmError
from simsvm.experiment.approaches import APPROACHES
from simsvm.experiment.values import yaml_problem
from simsvm.names import DEFAULT_CELL_TIMEOUT_S, SCORE_METRICS

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

    config = load_config(args.parameters, _parse_overrides(args.set))
    if args.dry_run:
        from simsvm.cli.plan import describe_plan

        print(describe_plan(config))
        return 0
    from simsvm.experiment.run import run_experiment

    table = run_experiment(config, parameters_file=str(args.parameters))
    final = table[
        (table.epoch == table.epoch.max())
        & (table.metric.isin(SCORE_METRICS))
        & (table.target.isin(["all", "mean"]))
    ]
    summary = final.groupby("approach")["value"].agg(["mean", "std"]).round(3)
    summary = summary.reindex([a for a in APPROACHES if a in summary.index])
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


def _report(args: argparse.Namespace) -> int:
    from simsvm.cli.batch import make_report
    from simsvm.exceptions import ResultsError

    batch_dir = Path(args.batch)
    if not batch_dir.is_dir() or not any(batch_dir.glob("*/results.csv")):
        raise ResultsError(f"{batch_dir}: not a batch folder with finished runs (no <run>/results.csv)")
    logging.getLogger("papermill").setLevel(logging.INFO if args.verbose else logging.ERROR)
    print(make_report(batch_dir, figures_dir=args.figures_dir, verbose=args.verbose))
    return 0


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


def _list(args: argparse.Namespace) -> int:
    from simsvm.cli.listing import LIST_SECTIONS, listing

    unknown = [s for s in args.sections if s not in LIST_SECTIONS]
    if unknown:
        raise ParameterError(f"list: unknown section(s) {unknown}; choose from {', '.join(LIST_SECTIONS)}")
    print(listing(tuple(args.sections) or LIST_SECTIONS))
    return 0


def _show(args: argparse.Namespace) -> int:
    from simsvm.cli.runs import show_run

    print(show_run(args.run, every_key=args.all))
    return 0


def _compare(args: argparse.Namespace) -> int:
    from simsvm.cli.runs import compare_runs

    print(compare_runs(args.runs, fmt=args.format, epoch=args.epoch))
    return 0


def _command(commands, name: str, help: str, epilog: str) -> argparse.ArgumentParser:
    """A subcommand whose help ends with its examples, laid out as written."""
    return commands.add_parser(
        name,
        help=help,
        description=help[0].upper() + help[1:] + ".",
        epilog=epilog,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )


_MAIN_EPILOG = """\
examples:
  simsvm data synth --out data/synth            generate small datasets to try things on
  simsvm run parameters/demo-gtzan.yaml --dry-run
  simsvm run parameters/demo-gtzan.yaml --set epochs=20
  simsvm show results/demo-gtzan
  simsvm compare results/demo-gtzan results/demo-ballroom
  simsvm list keys                              every parameter, its default and meaning

'simsvm COMMAND --help' describes each command.
exit status: 0 done, 1 a run failed, 2 bad input (a parameter, a data file, a results folder)."""

_RUN_EPILOG = """\
examples:
  simsvm run parameters/demo-gtzan.yaml
  simsvm run parameters/demo-gtzan.yaml --set epochs=20 --set folds=3
  simsvm run parameters/demo-gtzan.yaml --set "approaches=[NN, RBF-SL]" --dry-run

Results go to <results_dir>/<name>/.  A run that stopped resumes where it left off when the
same command is given again: finished networks are read back, not trained again.
'simsvm list keys' lists every parameter."""

_BATCH_EPILOG = """\
examples:
  simsvm batch parameters/demo-*.yaml --name demo
  simsvm batch parameters/gtzan.yaml parameters/ballroom.yaml --name paper --jobs 2

Each run goes to <results-dir>/<name>/<run>/ beside its executed notebook; the report of all
runs to <results-dir>/<name>/report.html, its figures and tables to <results-dir>/<name>/figures/.
A batch started again skips its finished runs."""

_REPORT_EPILOG = """\
examples:
  simsvm report results/demo
  simsvm report results/paper --figures-dir paper-figures

Makes the report of a batch folder again from its runs' results (nothing is trained):
<batch>/report.html, and its figures and tables in <batch>/figures/."""

_LIST_EPILOG = """\
examples:
  simsvm list             everything
  simsvm list keys        the parameter keys only
  simsvm list datasets approaches"""

_SHOW_EPILOG = """\
examples:
  simsvm show results/demo-gtzan
  simsvm show results/demo/demo-gtzan --all

RUN is a run folder: results/<name>, or results/<batch>/<name> for a run of a batch."""

_COMPARE_EPILOG = """\
examples:
  simsvm compare results/demo-gtzan results/demo/demo-gtzan
  simsvm compare results/demo/* --format markdown
  simsvm compare results/demo/* --format csv --epoch 100 > scores.csv

Each cell is the mean and standard deviation over the run's folds (or splits) of its task's
score: accuracy for classification, the mean over targets of Pearson's R for regression."""

_SYNTH_EPILOG = """\
examples:
  simsvm data synth --out data/synth
  simsvm data synth --out data/synth --datasets gtzan ballroom --clips-per-class 10

A folder already holding the same generation is left as it is."""


def build_parser() -> argparse.ArgumentParser:
    from simsvm.data.datasets.synthetic import GENERATORS

    parser = argparse.ArgumentParser(
        prog="simsvm",
        description="Similarity-based summarisation of music files for support vector machines:\n"
        "run the paper's experiments and look at their results.",
        epilog=_MAIN_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"simsvm {__version__}")
    parser.add_argument("--debug", action="store_true", help="show the traceback of an error")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    run = _command(commands, "run", "run one experiment from a YAML parameter file", _RUN_EPILOG)
    run.add_argument("parameters", help="YAML parameter file")
    run.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="override one parameter (repeatable); VALUE is read as YAML",
    )
    run.add_argument(
        "--dry-run",
        action="store_true",
        help="print the networks, model-epochs and a rough time, and write nothing",
    )
    run.set_defaults(handler=_run)
    batch = _command(
        commands,
        "batch",
        "run the experiment notebook once per parameter file with papermill, then the summary",
        _BATCH_EPILOG,
    )
    batch.add_argument("parameters", nargs="+", help="YAML parameter files")
    batch.add_argument("--name", default="batch", help="batch folder: <results-dir>/<name>/")
    batch.add_argument("--jobs", type=int, default=1, help="experiments run side by side")
    batch.add_argument("--results-dir", default="results")
    batch.add_argument(
        "--figures-dir",
        help="where the report's figures and tables go (default: <results-dir>/<name>/figures)",
    )
    batch.add_argument("--no-summary", action="store_true", help="skip the summary notebook")
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
    report = _command(commands, "report", "make the report of a batch folder again", _REPORT_EPILOG)
    report.add_argument("batch", help="batch folder, <results-dir>/<name>")
    report.add_argument("--figures-dir", help="where figures and tables go (default: <batch>/figures)")
    report.add_argument("--verbose", action="store_true", help="also stream the notebook's log and output")
    report.set_defaults(handler=_report)
    from simsvm.cli.listing import LIST_SECTIONS

    listed = _command(
        commands, "list", "list the datasets, approaches, kernels and parameter keys", _LIST_EPILOG
    )
    listed.add_argument(
        "sections",
        nargs="*",
        metavar="SECTION",
        help=f"any of {', '.join(LIST_SECTIONS)} (default: all)",
    )
    listed.set_defaults(handler=_list)
    show = _command(
        commands, "show", "describe a run folder: parameters, data, progress and scores", _SHOW_EPILOG
    )
    show.add_argument("run", help="run folder")
    show.add_argument("--all", action="store_true", help="also list the parameters left at their defaults")
    show.set_defaults(handler=_show)
    compare = _command(
        commands, "compare", "compare runs' scores: one row per approach, one column per run", _COMPARE_EPILOG
    )
    compare.add_argument("runs", nargs="+", metavar="RUN", help="run folders")
    compare.add_argument("--format", choices=["text", "csv", "markdown"], default="text")
    compare.add_argument(
        "--epoch", type=int, help="the evaluated epoch to compare at (default: each run's last)"
    )
    compare.set_defaults(handler=_compare)
    data = _command(commands, "data", "generate datasets", _SYNTH_EPILOG)
    data_commands = data.add_subparsers(dest="data_command", required=True, metavar="COMMAND")
    synth = _command(data_commands, "synth", "write generated datasets in the real layouts", _SYNTH_EPILOG)
    synth.add_argument("--out", required=True, help="folder; each dataset goes to <out>/<key>/")
    synth.add_argument(
        "--datasets",
        nargs="+",
        default=list(GENERATORS),
        choices=list(GENERATORS),
        metavar="KEY",
        help=f"which to write (default: all {len(GENERATORS)}: {', '.join(GENERATORS)})",
    )
    synth.add_argument(
        "--clips-per-class",
        type=int,
        default=30,
        help="the one size knob: clips per class; for emotify tracks per genre; for "
        "mediaeval2013 and table a quarter of the songs (default: 30)",
    )
    synth.add_argument("--duration", type=float, default=8.0, help="seconds per clip (default: 8)")
    synth.add_argument("--seed", type=int, default=0, help="the same seed writes the same files (default: 0)")
    synth.set_defaults(handler=_synth)
    return parser


class Terminated(KeyboardInterrupt):
    """SIGTERM (``kill``, ``timeout``, a batch system's time limit), raised where the run is."""


def _terminate(signum, frame) -> None:
    raise Terminated


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command; return its exit status.

    0: done; 1: a run failed (a batch lists which); 2: bad input (a parameter, a data file, a
    results folder), reported in one line that names it; 130 / 143: stopped by Ctrl-C / SIGTERM.
    ``--debug`` adds the traceback.
    """
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    # SIGTERM would end the process where it stands, skipping every finally: the worker
    # processes' pool is then never shut down.  As an exception it unwinds like Ctrl-C.
    if threading.current_thread() is not threading.main_thread():  # signals go to the main thread only
        return _handle(args)
    previous = signal.signal(signal.SIGTERM, _terminate)
    try:
        return _handle(args)
    finally:
        signal.signal(signal.SIGTERM, previous)


def _handle(args: argparse.Namespace) -> int:
    try:
        return args.handler(args)
    except Terminated:
        print("simsvm: terminated; finished jobs are kept, run the same command to resume", file=sys.stderr)
        return 143
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
