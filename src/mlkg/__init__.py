"""mlkg: a knowledge graph of the machine-learning-engineer career."""

__version__ = "0.1.0"
__all__ = ["__version__"]
