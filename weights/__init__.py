"""Weight registry and loaders: which files the product can use, where they live, and their licences."""

from weights.registry import REGISTRY, WeightEntry, resolve_weights, weights_dir

__all__ = ["REGISTRY", "WeightEntry", "resolve_weights", "weights_dir"]
