"""OpenAI-compatible completions servers (`POST /v1/completions`): what every dialect shares.

`CompletionsEngine` builds the request body (sampling, seed, model id; each dialect adds its own extras with
`_dialect_body`), posts it and returns the first choice with the server's completion-token count under
`_completion_tokens` (None where the server reports no `usage`). The prompt goes as token ids where the server
takes them; a server whose request model takes only strings (llama-cpp-python 0.3: a list of ids is a
validation error) gets the token list written out as text, which it tokenizes with its special tokens parsed.
Which one works is found on the first request and remembered per URL. The dialects (`openai` for llama.cpp's
servers, `vllm`) subclass it with their `_step`.
"""

from __future__ import annotations

import threading
from typing import Sequence

from mathcoder_local.engine.base import SamplingParams
from mathcoder_local.engine.remote.base import RemoteEngine, request_seed
from mathcoder_local.engine.remote.http import ServerError
from mathcoder_local.errors import UserError

_prompt_lock = threading.Lock()
_text_prompts: dict[str, bool] = {}  # URL -> the server wants the prompt as text, not token ids


class CompletionsEngine(RemoteEngine):
    """`RemoteEngine` over `POST /v1/completions`; a dialect adds `_dialect_body` and `_step`."""

    kind = "openai"

    def _dialect_body(self, sampling: SamplingParams) -> dict[str, object]:
        """The dialect's own request fields (sampler switches, output options)."""
        return {}

    def _body(self, sequence: Sequence[int], max_tokens: int, sampling: SamplingParams) -> dict[str, object]:
        body: dict[str, object] = {
            "max_tokens": max_tokens,
            "temperature": max(sampling.temperature, 0.0),
            "top_p": sampling.top_p,
            "seed": request_seed(sampling.seed, len(sequence)),
            "stream": False,
            "n": 1,
        }
        if self.server.model_id:
            body["model"] = self.server.model_id
        body.update(self._dialect_body(sampling))
        return body

    def _complete(self, sequence: Sequence[int], body: dict[str, object]) -> dict[str, object]:
        """POST /v1/completions with the prompt as token ids, or as text where the server wants text."""
        with _prompt_lock:
            as_text = _text_prompts.get(self.url)
        ids = {**body, "prompt": list(sequence)}
        if as_text is None:  # first request to this server: try token ids once
            try:
                choice = self._choice(self._post("/v1/completions", ids, sequence, attempts=1))
            except ServerError as exc:
                # llama-cpp-python's request model takes strings only; its validation error comes back as 500
                if "prompt" not in str(exc).lower() or "string" not in str(exc).lower():
                    return self._choice(self._post("/v1/completions", ids, sequence))
                as_text = True
            else:
                as_text = False
            with _prompt_lock:
                _text_prompts[self.url] = as_text
            if not as_text:
                return choice
        if not as_text:
            return self._choice(self._post("/v1/completions", ids, sequence))
        return self._choice(self._post("/v1/completions", {**body, "prompt": self.render_text(sequence)}, sequence))

    def _choice(self, answer: dict[str, object]) -> dict[str, object]:
        """The first choice, with the server's completion-token count (or None) as `_completion_tokens`."""
        choices = answer.get("choices")
        if not isinstance(choices, list) or not choices or not isinstance(choices[0], dict):
            raise UserError(f"{self.url}/v1/completions answered without choices")
        choice = dict(choices[0])
        usage = answer.get("usage")
        choice["_completion_tokens"] = usage.get("completion_tokens") if isinstance(usage, dict) else None
        return choice
