"""repoctx: gives language models the right code from a repository."""
__version__ = "0.1.0"
