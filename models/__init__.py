"""Model files that ship with mathcoder-local (installed as `mathcoder_local.models`): the nano model."""
