"""The documentation agrees with the code it documents."""

import re
from pathlib import Path

import yaml

from simsvm.cli.docs import GENERATED_PAGES, methods_page, parameters_page
from simsvm.experiment.approaches import APPROACHES
from simsvm.experiment.config import ExperimentConfig
from simsvm.model.kernels import KERNELS
from simsvm.model.losses import LOSSES

ROOT = Path(__file__).resolve().parents[1]


def test_the_parameter_reference_lists_exactly_the_configs_keys_in_order():
    rows = re.findall(r"^\| `([a-z_]+)` \|", parameters_page(), flags=re.M)
    assert rows == ExperimentConfig.keys()


def test_the_methods_page_has_every_declared_approach_loss_and_kernel_with_its_equation():
    page = methods_page()
    assert all(f"| **{name}** |" in page for name in APPROACHES)
    for declared in (*LOSSES.values(), *KERNELS.values()):
        assert f"### `{declared.name}`: {declared.title}" in page
    assert all(f"$$ {loss.equation} $$" in page for loss in LOSSES.values())
    assert all(f"$$ {kernel.formula} $$" in page for kernel in KERNELS.values())


def test_every_page_in_the_site_navigation_exists_and_every_page_is_in_it():
    class _Loader(yaml.SafeLoader):
        pass

    # mkdocs.yml may use !!python/name tags (pymdownx); they do not matter for the page list
    _Loader.add_multi_constructor("tag:yaml.org,2002:python/", lambda loader, suffix, node: None)
    site = yaml.load((ROOT / "mkdocs.yml").read_text(), Loader=_Loader)
    pages = [next(iter(item.values())) for item in site["nav"]]
    assert all((ROOT / "docs" / page).is_file() or page in GENERATED_PAGES for page in pages), pages
    assert sorted(pages) == sorted([p.name for p in (ROOT / "docs").glob("*.md")] + list(GENERATED_PAGES))
