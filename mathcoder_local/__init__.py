"""mathcoder-local: run code-integrated math-reasoning models locally on llama.cpp."""

__version__ = "0.1.0"
