"""Build hook, beside pyproject.toml: the notebooks ship inside the package.

``simsvm batch`` executes ``notebooks/*.ipynb``; a regular (non-editable) install has no source
tree to find them in, so the build copies them to ``simsvm/notebooks/`` in the wheel.
"""

from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py


class BuildWithNotebooks(build_py):
    def run(self) -> None:
        super().run()
        target = Path(self.build_lib) / "simsvm" / "notebooks"
        self.mkpath(str(target))
        for notebook in sorted((Path(__file__).parent / "notebooks").glob("*.ipynb")):
            self.copy_file(str(notebook), str(target / notebook.name))


setup(cmdclass={"build_py": BuildWithNotebooks})
