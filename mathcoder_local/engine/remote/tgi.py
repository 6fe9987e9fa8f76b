"""Text Generation Inference (`POST /generate`), the server MathCoder was released and evaluated with.

TGI takes the prompt as text (`inputs`; its tokenizer adds BOS and parses the special tokens written out in
it) and, with `details: true`, returns every generated token with its id and whether it is special, so the
tokens yielded here are exactly the model's. `stop` is the caller's stop strings and the text of its stop
tokens, one stretch per request, as MathCoder's own inference script did. The first request asks for
`decoder_input_details` and compares TGI's tokenization of the prompt with ours; a difference (a tokenizer
that is not the checkpoint's, or an HF tokenizer without the legacy space handling) is reported once.

Sampling: `do_sample` false is greedy; with a temperature, `temperature`, `top_p` (< 1), `top_k` and `seed`.
TGI's only grammars are JSON schemas and regexes, so no block grammar is applied here: the stop sequences
delimit blocks, and whatever the model writes between them is passed on as it is.
"""

from __future__ import annotations

from mathcoder_local.engine.base import ContextFull, SamplingParams, StopRules
from mathcoder_local.engine.remote.base import RemoteEngine, request_seed, warn_once
from mathcoder_local.errors import UserError


class TGIEngine(RemoteEngine):
    kind = "tgi"

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self._checked_prompt = False

    def _parameters(
        self, sequence: list[int], sampling: SamplingParams, max_tokens: int, stops: StopRules
    ) -> dict[str, object]:
        params: dict[str, object] = {
            "max_new_tokens": max_tokens,
            "details": True,
            "decoder_input_details": not self._checked_prompt,
            "stop": self.stop_texts(stops),
            "return_full_text": False,
            "do_sample": sampling.temperature > 0,
        }
        if sampling.temperature > 0:
            params["temperature"] = sampling.temperature
            params["seed"] = request_seed(sampling.seed, len(sequence))
            if 0 < sampling.top_p < 1:
                params["top_p"] = sampling.top_p
            if sampling.top_k > 0:
                params["top_k"] = sampling.top_k
        return params

    def _step(self, sequence: list[int], sampling: SamplingParams, max_tokens: int, stops: StopRules) -> list[int]:
        limit = self.server.max_input_tokens
        if limit and len(sequence) > limit:
            raise ContextFull(len(sequence), limit)
        parameters = self._parameters(sequence, sampling, max_tokens, stops)
        answer = self._post("/generate", {"inputs": self.render_text(sequence), "parameters": parameters}, sequence)
        details = answer.get("details")
        if not isinstance(details, dict) or not isinstance(details.get("tokens"), list):
            raise UserError(f"{self.url}/generate answered without details.tokens (is `details` disabled?)")
        if not self._checked_prompt:
            self._checked_prompt = True
            self._compare_prefill(sequence, details.get("prefill"))
        out = [int(t["id"]) for t in details["tokens"]]
        if details.get("finish_reason") == "eos_token" and (not out or not self.is_end_of_generation(out[-1])):
            out.append(self.eos_id)
        return out

    def _compare_prefill(self, sequence: list[int], prefill: object) -> None:
        if not isinstance(prefill, list) or not prefill:
            return
        theirs = [int(t["id"]) for t in prefill if isinstance(t, dict) and "id" in t]
        if theirs == sequence:
            return
        at = next((i for i, (a, b) in enumerate(zip(theirs, sequence, strict=False)) if a != b), None)
        at = min(len(theirs), len(sequence)) if at is None else at
        warn_once(
            f"prefill:{self.url}",
            f"{self.url} tokenizes the prompt differently from the local vocabulary (first difference at token "
            f"{at} of {len(sequence)}); answers may differ from a local run",
        )
