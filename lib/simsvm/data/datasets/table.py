"""Your own set described by a table: one row per audio file, its class or its target values.

Layout::

    <data_dir>/<table>.csv or .tsv     a column of files (paths relative to data_dir) and
    <data_dir>/<the files it names>    either one label column or one or more target columns

Options: ``table`` (the file's name; default the one ``.csv`` or ``.tsv`` in ``data_dir``),
``file_column`` (default ``file``), ``label_column`` for classification *or* ``target_columns``
for regression (Pearson's R per target and their mean, as for MediaEval), and ``split_column``
for a fixed split (its values name the splits).  Rows whose file is missing, whose label or
target is empty or not a number, and repeated rows of a file are left out and reported, as is
audio in the folder that the table does not list.
"""

from __future__ import annotations

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
    entries, skipped, seen = [], [], set()
    for line, row in zip(range(2, len(rows) + 2), rows.itertuples(index=False), strict=True):
        values = dict(zip(rows.columns, row, strict=True))
        file = str(values[file_column]).strip()
        where = f"{path.name} line {line}"
        if file in seen:
            skipped.append((where, f"{file} listed again"))
            continue
        seen.add(file)
        if not (data_dir / file).is_file():
            skipped.append((str(data_dir / file), f"listed in {where} but not on disk"))
            continue
        if label_column:
            label = values[label_column]
            target = None if pd.isna(label) or not str(label).strip() else str(label).strip()
        else:
            target = pd.to_numeric(pd.Series([values[c] for c in target_columns]), errors="coerce").to_numpy(
                float
            )
            target = None if np.isnan(target).any() else target
        if target is None:
            skipped.append((where, f"{file}: missing or unparsable {label_column or target_columns}"))
            continue
        split = str(values[split_column]).strip() if split_column else None
        entries.append((data_dir / file, target, split))
    skipped += unlisted_audio(data_dir, {(data_dir / f).resolve() for f in seen}, AUDIO_EXTENSIONS, path.name)
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
