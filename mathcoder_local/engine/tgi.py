"""Text Generation Inference (`POST /generate`), the server MathCoder was released and evaluated with.

TGI takes the prompt as text (`inputs`; its tokenizer adds BOS and parses the special tokens written out in
it) and, with `details: true`, returns every generated token with its id and whether it is special, so the
tokens yielded here are exactly the model's. MathCoder: `stop` on `<|endofblock|>` and `<|endofmessage|>`,
one block per request, as MathCoder's own inference script did. ToRA: `stop` on ```output. The first request
asks for `decoder_input_details` and compares TGI's tokenization of the prompt with ours; a difference (a
tokenizer that is not the checkpoint's, or an HF tokenizer without the legacy space handling) is reported once.

Sampling: `do_sample` false is greedy; with a temperature, `temperature`, `top_p` (< 1), `top_k` and `seed`.
TGI's only grammars are JSON schemas and regexes, so the MathCoder block grammar is not applied here: the stop
sequences delimit blocks, and a model-written <|execution|> block is shown as text, as MathCoder's harness did.
"""

from __future__ import annotations

from mathcoder_local.engine.base import ContextFull, SamplingParams
from mathcoder_local.engine.remote import RemoteEngine, request_seed, warn_once
from mathcoder_local.errors import UserError
from mathcoder_local.formats.tora import OUTPUT_STOP


class TGIEngine(RemoteEngine):
    kind = "tgi"

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self._checked_prompt = False

    def _parameters(self, sequence: list[int], sampling: SamplingParams, max_tokens: int) -> dict[str, object]:
        if self.mathcoder_ids is not None:
            stops = ["<|endofblock|>", "<|endofmessage|>"]
        else:
            stops = [OUTPUT_STOP]
        params: dict[str, object] = {
            "max_new_tokens": max_tokens,
            "details": True,
            "decoder_input_details": not self._checked_prompt,
            "stop": stops,
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

    def _step(self, sequence: list[int], sampling: SamplingParams, max_tokens: int) -> list[int]:
        limit = self.server.max_input_tokens
        if limit and len(sequence) > limit:
            raise ContextFull(len(sequence), limit)
        body = {"inputs": self.render_text(sequence), "parameters": self._parameters(sequence, sampling, max_tokens)}
        answer = self._post("/generate", body, sequence)
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
