"""Weight files: the registry (which files exist, where they live, their licences) and the one loader
path (`weights.loading`, imported on its own so that the registry stays free of torch)."""

from weights.registry import REGISTRY, WeightEntry, own_renderer_dir, resolve_weights, weights_dir

__all__ = ["REGISTRY", "WeightEntry", "own_renderer_dir", "resolve_weights", "weights_dir"]
