"""An app module named like an installed package: the worker's sys.path order lets the package win."""

SHADOW = True
