"""vLLM's OpenAI-compatible completions server (told apart from llama.cpp's by `/v1/models`' `owned_by`).

Token ids in; `stop` on the caller's stop strings and the text of its stop tokens, with
`skip_special_tokens: false` and `include_stop_str_in_output: true`, so one request is one stretch up to and
including its stop, as MathCoder's own harness did on TGI. The generated token ids come back with
`return_tokens_as_token_ids` (as `logprobs.tokens` "token_id:N") or `return_token_ids` (`token_ids`); where
neither does, the text is tokenized here with the special tokens written out in it turned back into ids. An
answer that stopped with no `stop_reason` ended at end of generation. vLLM's extra samplers (min_p, repetition
penalty) are switched off and top_k is -1 when unset. This follows vLLM's documented parameters; no logits
processor and no grammar are sent.
"""

from __future__ import annotations

from mathcoder_local.engine.base import SamplingParams, StopRules
from mathcoder_local.engine.remote.completions import CompletionsEngine


class VLLMEngine(CompletionsEngine):
    def _dialect_body(self, sampling: SamplingParams) -> dict[str, object]:
        return {"top_k": sampling.top_k or -1, "min_p": 0.0, "repetition_penalty": 1.0}

    def _step(self, sequence: list[int], sampling: SamplingParams, max_tokens: int, stops: StopRules) -> list[int]:
        body = {
            **self._body(sequence, max_tokens, sampling),
            "stop": self.stop_texts(stops),
            "include_stop_str_in_output": True,
            "skip_special_tokens": False,
            "spaces_between_special_tokens": False,
            "logprobs": 0,
            "return_tokens_as_token_ids": True,
            "return_token_ids": True,
        }
        choice = self._complete(sequence, body)
        out = _token_ids(choice)
        if out is None:
            out = self.tokens_with_specials(str(choice.get("text") or ""), after_special=self.is_special(sequence[-1]))
        ended = choice.get("finish_reason") == "stop" and choice.get("stop_reason") is None
        if ended and (not out or not self.is_end_of_generation(out[-1])):
            out.append(self.eos_id)
        return out


def _token_ids(choice: dict[str, object]) -> list[int] | None:
    """The generated token ids the choice carries, or None where it has only text."""
    ids = choice.get("token_ids")
    if isinstance(ids, list) and all(isinstance(i, int) for i in ids):
        return list(ids)
    logprobs = choice.get("logprobs")
    tokens = logprobs.get("tokens") if isinstance(logprobs, dict) else None
    if isinstance(tokens, list) and tokens and all(isinstance(t, str) and t.startswith("token_id:") for t in tokens):
        return [int(t.split(":", 1)[1]) for t in tokens]
    return None
