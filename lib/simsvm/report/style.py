"""How the report draws and names things: one style per approach, metric ranges, dataset titles.

Every figure, table and legend of :mod:`simsvm.report` reads :data:`APPROACH_STYLES`, so an
approach has the same colour and marker everywhere.  The colours are the Okabe-Ito palette,
which stays distinguishable under the common forms of colour-blindness; the markers differ as
well, so the curves also separate in greyscale print.
"""

from __future__ import annotations

from dataclasses import dataclass

from simsvm.names import APPROACHES

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


# Okabe & Ito (2008), "Color Universal Design"; Stats trains nothing, so its curve is flat and dashed.
APPROACH_STYLES: dict[str, ApproachStyle] = {
    "NN": ApproachStyle("#000000", "o"),
    "FL": ApproachStyle("#E69F00", "s"),
    "RBF-SL": ApproachStyle("#0072B2", "^"),
    "Cos-SL": ApproachStyle("#009E73", "D"),
    "Poly-SL": ApproachStyle("#CC79A7", "v"),
    "Stats": ApproachStyle("#D55E00", "X", flat=True),
}
if tuple(APPROACH_STYLES) != APPROACHES:  # a new approach needs its style here
    raise ImportError(f"APPROACH_STYLES covers {tuple(APPROACH_STYLES)}, the suite has {APPROACHES}")

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
