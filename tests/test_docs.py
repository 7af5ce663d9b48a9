"""The documentation agrees with the code it documents."""

import re
from pathlib import Path

import yaml

from simsvm.cli.docs import parameters_page
from simsvm.experiment.config import ExperimentConfig

ROOT = Path(__file__).resolve().parents[1]


def test_the_parameter_reference_is_the_one_the_config_writes():
    committed = (ROOT / "docs" / "parameters.md").read_text()
    assert committed == parameters_page(), "docs/parameters.md is stale: run python -m simsvm.cli.docs"


def test_the_parameter_reference_lists_exactly_the_configs_keys_in_order():
    rows = re.findall(r"^\| `([a-z_]+)` \|", (ROOT / "docs" / "parameters.md").read_text(), flags=re.M)
    assert rows == ExperimentConfig.keys()


def test_every_page_in_the_site_navigation_exists_and_every_page_is_in_it():
    class _Loader(yaml.SafeLoader):
        pass

    # mkdocs.yml may use !!python/name tags (pymdownx); they do not matter for the page list
    _Loader.add_multi_constructor("tag:yaml.org,2002:python/", lambda loader, suffix, node: None)
    site = yaml.load((ROOT / "mkdocs.yml").read_text(), Loader=_Loader)
    pages = [next(iter(item.values())) for item in site["nav"]]
    assert all((ROOT / "docs" / page).is_file() for page in pages), pages
    assert sorted(pages) == sorted(p.name for p in (ROOT / "docs").glob("*.md"))
