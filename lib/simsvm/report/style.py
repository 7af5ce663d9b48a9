"""How the report draws and names things: each approach's style, metric ranges, dataset titles.

Every figure, table and legend of :mod:`simsvm.report` reads :data:`APPROACH_STYLES`, which is
taken from the approaches' declarations (:mod:`simsvm.experiment.approaches`), so an approach
has the same colour and marker everywhere.
"""

from __future__ import annotations

from dataclasses import dataclass

from simsvm.experiment.approaches import APPROACHES

__all__ = [
    "APPROACH_STYLES",
    "CHANCE_COLOUR",
    "DATASET_TITLES",
    "METRIC_LABELS",
    "METRIC_RANGES",
    "ApproachStyle",
    "dataset_title",
    "unit_phrase",
]


@dataclass(frozen=True)
class ApproachStyle:
    """An approach's colour (hex) and matplotlib marker, and whether its curve is a flat line."""

    colour: str
    marker: str
    flat: bool = False


# An approach without training has a flat, dashed curve.
APPROACH_STYLES: dict[str, ApproachStyle] = {
    name: ApproachStyle(approach.colour, approach.marker, flat=not approach.trains)
    for name, approach in APPROACHES.items()
}

# Reference lines (chance level, zero difference): grey, so that they never read as an approach.
CHANCE_COLOUR = "#7f7f7f"

METRIC_LABELS = {
    "accuracy": "accuracy",
    "pearson_r": "Pearson's R",
    "r2": "R²",
    "train_loss": "training loss",
}
# The values a metric can take; a ± s.d. band is clipped to them (R² has no lower bound).
METRIC_RANGES: dict[str, tuple[float | None, float | None]] = {
    "accuracy": (0.0, 1.0),
    "pearson_r": (-1.0, 1.0),
    "r2": (None, 1.0),
    "train_loss": (0.0, None),
}

DATASET_TITLES = {
    "lastfm": "Lastfm (mood)",
    "emotify": "Emotify",
    "mediaeval2013": "MediaEval 2013",
    "gtzan": "GTZAN",
    "ballroom": "Ballroom",
    "folders": "class folders",
    "table": "annotation table",
}


def dataset_title(dataset: str, generated: bool | None) -> str:
    """The dataset's name as a title: ``'generated GTZAN layout'`` for data of ``simsvm data synth``.

    Parameters
    ----------
    dataset : str
        The dataset key (``'gtzan'``, ...).
    generated : bool or None
        True for generated data, False for real data, None where the data folder is gone and
        its origin cannot be told.
    """
    name = DATASET_TITLES.get(dataset, dataset)
    if generated:
        return f"generated {name} layout"
    if generated is None:
        return f"{name} (origin of the data unknown)"
    return name


def unit_phrase(protocol: str, count: int) -> str:
    """``'3 folds'``, ``'4 random splits'`` or ``'1 split'``: what a run's scores are spread over."""
    unit = {"cv": "fold", "split": "fixed split", "random_splits": "random split"}.get(protocol, "partition")
    return f"{count} {unit}{'s' if count != 1 else ''}"
