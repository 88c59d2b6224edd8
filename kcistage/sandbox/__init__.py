"""The embedded sandbox: a GitHub stand-in, local repositories, a harmless step, the demo."""
