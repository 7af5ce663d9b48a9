"""The approaches, one declaration each: what is trained, what scores it, how it is drawn.

An :class:`Approach` names the features the SVM reads (a trained :class:`Network`'s, the frame
statistics, or embeddings you bring), the classifier (the SVM / SVR, or the baseline network's
own output layer), the tasks it applies to, its colour and marker, and its documentation.  A
:class:`Network` is a loss of :data:`~simsvm.model.losses.LOSSES` on the paper's GRU, with a
kernel where the loss compares kernel matrices, and a seed stream of its own, so that adding an
approach never changes another network's seed.  The configuration, the planner, the tables,
the plots, the significance tests, ``simsvm list`` and the documentation all read
:data:`APPROACHES`; its order is the order of every table and legend.

Colours: the Okabe-Ito palette (Okabe & Ito 2008) for the paper's approaches and Stats, Paul
Tol's muted scheme for the rest; both stay distinguishable under the common forms of
colour-blindness, and the markers differ too, so the curves also separate in greyscale print.
"""

from __future__ import annotations

from dataclasses import dataclass

from simsvm.exceptions import ParameterError
from simsvm.model.kernels import KERNELS
from simsvm.model.losses import LOSSES

__all__ = [
    "APPROACHES",
    "DEFAULT_COMPARISONS",
    "NETWORKS",
    "PAPER_APPROACHES",
    "SVM_SEED_STREAM",
    "Approach",
    "Network",
    "check_approaches",
    "declare_approach",
    "trained_networks",
]

# The seed stream of a fold's inner SVM folds (svm_tuning), shared by every approach of the fold.
SVM_SEED_STREAM = 4


@dataclass(frozen=True)
class Network:
    """A network one or more approaches read: the paper's GRU trained with one loss.

    Attributes
    ----------
    key : str
        Its name in job names (``fold00-<key>``) and stored features.
    loss : str
        A key of :data:`~simsvm.model.losses.LOSSES`, or ``None`` for the loss the
        ``baseline_loss`` key chooses (the NN/FL network).
    kernel : str, optional
        The kernel of a loss that compares kernel matrices; its parameters are the
        ``<kernel>_<parameter>`` keys.
    seed_stream : int
        Seeds the network's weights and excerpts, apart from every other network's.
    """

    key: str
    loss: str | None
    kernel: str | None
    seed_stream: int


@dataclass(frozen=True)
class Approach:
    """One approach of the comparison.

    Attributes
    ----------
    name : str
        As parameter files, tables and legends spell it.
    summary : str
        One line: what is compared (``simsvm list``, the documentation).
    features : {'network', 'statistics', 'embedding'}
        What the classifier reads: a trained network's time-averaged outputs, each file's frame
        mean and standard deviation, or one vector per track from ``embedding_file``.
    network : Network, optional
        The network for ``features='network'``.
    classifier : {'svm', 'network'}
        The SVM / SVR on the features, or the baseline network's own output layer.
    tasks : tuple of str
        The tasks it applies to.
    colour, marker : str
        Hex colour and matplotlib marker, the same in every figure.
    default : bool
        Among the approaches a parameter file runs when it does not list them.
    paper : bool
        One of the paper's five approaches (its tables).
    compared_with : tuple of str
        The approaches its scores are tested against by default (significance, ``this vs that``).
    source : str
        Where it comes from, for the documentation (the equation is its loss's).
    """

    name: str
    summary: str
    features: str
    network: Network | None
    classifier: str
    tasks: tuple[str, ...]
    colour: str
    marker: str
    default: bool = False
    paper: bool = False
    compared_with: tuple[str, ...] = ()
    source: str = ""

    @property
    def trains(self) -> bool:
        """Whether it has a trained network (and so a training loss and curves that move)."""
        return self.network is not None


APPROACHES: dict[str, Approach] = {}
NETWORKS: dict[str, Network] = {}


def declare_approach(approach: Approach) -> Approach:
    """Add ``approach`` to :data:`APPROACHES` (and its network to :data:`NETWORKS`), checked."""
    if approach.name in APPROACHES:
        raise ImportError(f"approach {approach.name!r} is declared twice")
    network = approach.network
    if network is not None:
        known = NETWORKS.get(network.key)
        if known is not None and known != network:
            raise ImportError(f"network {network.key!r} is declared twice, differently")
        streams = {n.seed_stream: n.key for n in NETWORKS.values()} | {SVM_SEED_STREAM: "the SVM's folds"}
        if known is None and network.seed_stream in streams:
            owner = streams[network.seed_stream]
            raise ImportError(f"network {network.key!r}: seed stream {network.seed_stream} is {owner}'s")
        if network.loss is not None and network.loss not in LOSSES:
            raise ImportError(f"network {network.key!r}: unknown loss {network.loss!r}")
        if network.kernel is not None and network.kernel not in KERNELS:
            raise ImportError(f"network {network.key!r}: unknown kernel {network.kernel!r}")
        NETWORKS[network.key] = network
    APPROACHES[approach.name] = approach
    return approach


_BOTH = ("classification", "regression")
_BASELINE = Network("baseline", loss=None, kernel=None, seed_stream=0)

declare_approach(
    Approach(
        "NN",
        "the baseline network's own predictions (its dense output layer)",
        "network",
        _BASELINE,
        classifier="network",
        tasks=_BOTH,
        colour="#000000",
        marker="o",
        default=True,
        paper=True,
        source="Jakubik & Kwaśnicka (2018), section 3",
    )
)
declare_approach(
    Approach(
        "FL",
        "the SVM on the features of the baseline network (trained through its output layer)",
        "network",
        _BASELINE,
        classifier="svm",
        tasks=_BOTH,
        colour="#E69F00",
        marker="s",
        default=True,
        paper=True,
        source="Jakubik & Kwaśnicka (2018), section 3",
    )
)
for _name, _kernel, _stream, _colour, _marker in (
    ("RBF-SL", "rbf", 1, "#0072B2", "^"),
    ("Cos-SL", "cosine", 2, "#009E73", "D"),
    ("Poly-SL", "poly", 3, "#CC79A7", "v"),
):
    declare_approach(
        Approach(
            _name,
            f"the SVM on features trained with the similarity loss, {KERNELS[_kernel].title} kernel",
            "network",
            Network(_kernel, loss="similarity", kernel=_kernel, seed_stream=_stream),
            classifier="svm",
            tasks=_BOTH,
            colour=_colour,
            marker=_marker,
            default=True,
            paper=True,
            # the paper's tests (its section 3.3), and ours against the baseline without training
            compared_with=("NN", "FL", "Stats") if _name == "RBF-SL" else (),
            source=LOSSES["similarity"].source,
        )
    )
declare_approach(
    Approach(
        "Stats",
        "the SVM on each file's frame mean and standard deviation over time; nothing trained",
        "statistics",
        None,
        classifier="svm",
        tasks=_BOTH,
        colour="#D55E00",
        marker="X",
        default=True,
        source="the usual bag-of-frames baseline",
    )
)
declare_approach(
    Approach(
        "CKA-SL",
        "the SVM on features trained with 1 - centred kernel alignment, RBF kernel",
        "network",
        Network("cka", loss="cka", kernel="rbf", seed_stream=5),
        classifier="svm",
        tasks=_BOTH,
        colour="#88CCEE",
        marker="P",
        compared_with=("RBF-SL",),
        source=LOSSES["cka"].source,
    )
)
declare_approach(
    Approach(
        "SupCon",
        "the SVM on features trained with the supervised contrastive loss",
        "network",
        Network("supcon", loss="supcon", kernel=None, seed_stream=6),
        classifier="svm",
        tasks=("classification",),
        colour="#882255",
        marker="*",
        compared_with=("RBF-SL",),
        source=LOSSES["supcon"].source,
    )
)
declare_approach(
    Approach(
        "CE-FL",
        "the SVM on the features of a network trained with cross-entropy through its output layer",
        "network",
        Network("ce", loss="cross_entropy", kernel=None, seed_stream=7),
        classifier="svm",
        tasks=("classification",),
        colour="#999933",
        marker="h",
        compared_with=("RBF-SL", "FL"),
        source="the usual classification loss; as FL, with cross-entropy for the sum of squared errors",
    )
)
declare_approach(
    Approach(
        "Lap-SL",
        "the SVM on features trained with the similarity loss, Laplacian kernel",
        "network",
        Network("laplacian", loss="similarity", kernel="laplacian", seed_stream=8),
        classifier="svm",
        tasks=_BOTH,
        colour="#332288",
        marker="<",
        compared_with=("RBF-SL",),
        source=LOSSES["similarity"].source,
    )
)
declare_approach(
    Approach(
        "Embedding",
        "the SVM on one vector per track that you bring (embedding_file), standardised per training part",
        "embedding",
        None,
        classifier="svm",
        tasks=_BOTH,
        colour="#44AA99",
        marker="d",
        compared_with=("RBF-SL",),
        source="features computed elsewhere (e.g. MERT, CLAP, musicnn)",
    )
)


def trained_networks(approaches: list[str] | tuple[str, ...]) -> list[Network]:
    """The networks ``approaches`` read, each once, in the order of the approaches."""
    networks = (APPROACHES[name].network for name in approaches)
    return list(dict.fromkeys(network for network in networks if network is not None))


def check_approaches(
    approaches: list[str], *, task: str | None, dataset: str, embedding_file: str | None
) -> None:
    """Refuse unknown or repeated names, an approach for the other task, and Embedding without
    ``embedding_file`` (or the reverse), each with a :class:`ParameterError` naming the key."""
    unknown = [a for a in approaches if a not in APPROACHES]
    if unknown or not approaches:
        raise ParameterError(f"approaches: unknown {unknown}; choose from {list(APPROACHES)}")
    if len(set(approaches)) != len(approaches):
        raise ParameterError(f"approaches: listed twice in {approaches}")
    refused = [a for a in approaches if task is not None and task not in APPROACHES[a].tasks]
    if refused:
        raise ParameterError(
            f"approaches: {refused} are for {' and '.join(APPROACHES[refused[0]].tasks)} only; "
            f"{dataset} is a {task} dataset"
        )
    wants_embedding = any(APPROACHES[a].features == "embedding" for a in approaches)
    if wants_embedding != (embedding_file is not None):
        raise ParameterError(
            "embedding_file: the Embedding approach needs one (a file of one vector per track)"
            if wants_embedding
            else f"embedding_file: {embedding_file!r} is given, but Embedding is not an approach"
        )


# The paper's five, in its order (its tables compare these).
PAPER_APPROACHES = tuple(name for name, approach in APPROACHES.items() if approach.paper)
# The significance tests a random-splits run gets by default: (approach, baseline) pairs.
DEFAULT_COMPARISONS = tuple(
    (name, baseline) for name, approach in APPROACHES.items() for baseline in approach.compared_with
)
for _name, _baseline in DEFAULT_COMPARISONS:
    if _baseline not in APPROACHES or _baseline == _name:
        raise ImportError(f"approach {_name!r} is compared with {_baseline!r}, which is not another approach")
