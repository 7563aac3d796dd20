"""drawdigit: draw a digit and watch a small CNN recognise it; retrain it on MNIST."""

__version__ = "0.1.0"
