"""Your own set described by a table: one row per audio file, its class or its target values.

Layout::

    <data_dir>/<table>.csv or .tsv     a column of files (paths relative to data_dir) and
    <data_dir>/<the files it names>    either one label column or one or more target columns

Options: ``table`` (the file's name; default the one ``.csv`` or ``.tsv`` in ``data_dir``),
``file_column`` (default ``file``), ``label_column`` for classification *or* ``target_columns``
for regression (Pearson's R per target and their mean, as for MediaEval), and ``split_column``
for a fixed split (its values name the splits; a row with an empty cell is in no split, which
``protocol: split`` leaves out and reports).  Rows whose file is missing, whose label or target is
empty or not a number, and repeated rows of a file are left out and reported, as is audio in the
folder that the table does not list.  A file is a file however its path is spelled
(``./clips/0000.wav``, ``clips//0000.wav``, through a link): listed again with its label, the
repeat is reported; listed again with another label, the table is refused naming both lines.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from simsvm.exceptions import DataError

from ._base import Dataset, unlisted_audio

__all__ = ["AUDIO_EXTENSIONS", "load", "task"]

AUDIO_EXTENSIONS = (".mp3", ".wav", ".au", ".flac", ".ogg")


def task(options: dict) -> str:
    """The task a table describes: regression with ``target_columns``, else classification."""
    return "regression" if options.get("target_columns") else "classification"


def _table_file(data_dir: Path, name: str | None) -> Path:
    if name is not None:
        path = data_dir / name
        if not _inside(path, data_dir):  # the data's fingerprint and the run's identity cover data_dir only
            raise DataError(f"table: {name!r} lies outside data_dir {data_dir}; put the table in that folder")
        if not path.is_file():
            raise DataError(f"table: {path} not found")
        return path
    found = sorted(p for p in data_dir.iterdir() if p.suffix.lower() in (".csv", ".tsv") and p.is_file())
    if len(found) != 1:
        raise DataError(
            f"table: expected one .csv or .tsv in {data_dir}, found {[p.name for p in found]}; "
            "name it with dataset_options: {table: <file>}"
        )
    return found[0]


def _inside(path: Path, data_dir: Path) -> bool:
    """Whether ``path`` is spelled inside ``data_dir`` (lexically: links inside it may point anywhere)."""
    return Path(os.path.normpath(path)).is_relative_to(os.path.normpath(data_dir))


# A target beyond this is a typo or an overflow: its square and the similarity kernels of the
# annotations (float32) overflow, and the SVR failed far from the table's line.
_TARGET_LIMIT = 1e12


def _cell(value) -> str | None:
    """A cell's text, or ``None`` for an empty one (pandas reads it as NaN)."""
    import pandas as pd

    return None if pd.isna(value) or not str(value).strip() else str(value).strip()


def _target(values: dict, label_column: str | None, target_columns: list[str] | None):
    """A row's class name or target vector, ``None`` where a cell is empty or not a number."""
    import pandas as pd

    if label_column:
        return _cell(values[label_column])
    target = pd.to_numeric(pd.Series([values[c] for c in target_columns]), errors="coerce").to_numpy(float)
    return None if np.isnan(target).any() else target


def _relative(resolved: Path, data_dir: Path) -> str:
    root = data_dir.resolve()
    return resolved.relative_to(root).as_posix() if resolved.is_relative_to(root) else str(resolved)


def _shown(target) -> str:
    return repr(target) if isinstance(target, str) else str([float(v) for v in target])


def load(
    data_dir: str | Path,
    *,
    table: str | None = None,
    file_column: str = "file",
    label_column: str | None = None,
    target_columns: list[str] | None = None,
    split_column: str | None = None,
) -> Dataset:
    """Index the files the table names, with their labels or targets; report every row left out."""
    import pandas as pd

    data_dir = Path(data_dir)
    if (label_column is None) == (not target_columns):
        raise DataError("table: give exactly one of dataset_options label_column (classes) or target_columns")
    path = _table_file(data_dir, table)
    try:
        rows = pd.read_csv(path, sep="\t" if path.suffix.lower() == ".tsv" else ",", dtype=str)
    except Exception as error:
        raise DataError(f"table: cannot parse {path}: {error}".splitlines()[0]) from error
    rows.columns = [str(column).strip() for column in rows.columns]
    wanted = [file_column, *([label_column] if label_column else target_columns)]
    wanted += [split_column] if split_column else []
    missing = [column for column in wanted if column not in rows.columns]
    if missing:
        raise DataError(f"table: {path} lacks column(s) {missing}; it has {list(rows.columns)}")
    entries, skipped, listed = [], [], set()
    used: dict[Path, tuple[int, str, object]] = {}  # resolved file -> (line, spelling, target)
    for line, row in zip(range(2, len(rows) + 2), rows.itertuples(index=False), strict=True):
        values = dict(zip(rows.columns, row, strict=True))
        file = str(values[file_column]).strip()
        where = f"{path.name} line {line}"
        target = _target(values, label_column, target_columns)
        if target is not None and not isinstance(target, str) and not (np.abs(target) < _TARGET_LIMIT).all():
            shown = dict(zip(target_columns, (values[c] for c in target_columns), strict=True))
            raise DataError(
                f"table: {path.name} line {line}: {file} has targets {shown}; each must be a finite "
                f"number of magnitude below {_TARGET_LIMIT:g}"
            )
        resolved = (data_dir / file).resolve()
        listed.add(resolved)
        if resolved in used:
            first_line, spelling, first_target = used[resolved]
            if target is not None and not np.array_equal(target, first_target):
                raise DataError(
                    f"table: {path.name} lines {first_line} and {line} both list "
                    f"{_relative(resolved, data_dir)}, as {_shown(first_target)} and {_shown(target)}; "
                    "keep one row"
                )
            again = "" if spelling == file else f" (as {spelling} on line {first_line})"
            skipped.append((where, f"{file} listed again{again}"))
            continue
        if not _inside(data_dir / file, data_dir):
            skipped.append((where, f"{file} lies outside data_dir {data_dir}"))
            continue
        if not (data_dir / file).is_file():
            skipped.append((str(data_dir / file), f"listed in {where} but not on disk"))
            continue
        if target is None:
            skipped.append((where, f"{file}: missing or unparsable {label_column or target_columns}"))
            continue
        used[resolved] = (line, file, target)
        split = _cell(values[split_column]) if split_column else None
        entries.append((data_dir / file, target, split))
    skipped += unlisted_audio(data_dir, listed, AUDIO_EXTENSIONS, path.name)
    if not entries:
        raise DataError(f"table: no usable row in {path}")
    if label_column:
        names = tuple(sorted({target for _, target, _ in entries}))
        targets = np.asarray([names.index(target) for _, target, _ in entries], dtype=np.int64)
    else:
        names = tuple(target_columns)
        targets = np.stack([target for _, target, _ in entries])
    splits: dict[str, list[int]] = {}
    for index, (_, _, split) in enumerate(entries):
        if split is not None:
            splits.setdefault(split, []).append(index)
    return Dataset(
        key="table",
        task="classification" if label_column else "regression",
        target_names=names,
        track_ids=[audio.relative_to(data_dir).with_suffix("").as_posix() for audio, _, _ in entries],
        audio_paths=[audio for audio, _, _ in entries],
        targets=targets,
        root=data_dir,
        skipped=skipped,
        splits=splits,
    )
