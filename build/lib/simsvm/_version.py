"""The library's version, apart from the package root so that every stage can record it."""

__version__ = "0.1.0"
