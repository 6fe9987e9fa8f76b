"""OpenAI-compatible completions servers (`POST /v1/completions`): llama.cpp's llama-server, llama-cpp-python's
server (`python -m llama_cpp.server`), vLLM.

**llama.cpp dialect** (llama-server, llama-cpp-python; told apart from vLLM by `/v1/models`' `owned_by`):

- Prompt: token ids where the server takes them (llama-server does); llama-cpp-python 0.3's request model takes
  only strings (a list of ids is a 422), so the token list is written out as text, which it tokenizes with its
  special tokens parsed. Which one works is found on the first request and remembered per URL.
- Output: text only, and a MathCoder model's block tokens are CONTROL tokens that llama.cpp renders as empty
  text, so block boundaries cannot be seen in the answer. Blocks therefore come one request at a time, each
  shaped by a GBNF grammar with llama.cpp's token references: (1) which block comes next:
  `( <|text|> "\\x01" | <|code|> "\\x02" )?` (or the end of the message), two tokens at most; (2) the block's
  body, which must end with `<|endofblock|>` and then a one-character tag the body cannot contain. The tag makes
  the end visible; it is never kept (the next prompt ends before it). The body rule is the MathCoder grammar's
  (no "<|" inside a block), so blocks are always well formed over these servers, with or without --grammar.
- ToRA / MuMath-Code: `stop: ["```output"]`; an answer that stopped there is told from one that ended with
  EOS by the token count the server reports (the stop string's tokens are counted but not returned).
- Sampling: temperature, top_p, top_k, seed; llama.cpp's own extras (repeat_penalty 1.1, min_p 0.05, top_k 40
  by default) are switched off so that temperature 0 is the same greedy decoding as in process.

**vLLM dialect**: token ids in; `stop` on the special tokens' text with `skip_special_tokens: false` and
`include_stop_str_in_output: true`, one block per request as MathCoder's own harness did on TGI; the generated
token ids come back with `return_tokens_as_token_ids` (or `return_token_ids`), else the text is tokenized here.
This dialect follows vLLM's documented parameters; the tests exercise the llama.cpp dialect against a real
llama-cpp-python server.

Neither dialect can run a logits processor or a custom grammar (the block grammar is built in).
"""

from __future__ import annotations

import re
import threading
from typing import Sequence

from mathcoder_local.engine.base import SamplingParams
from mathcoder_local.engine.remote import RemoteEngine, ServerError, request_seed
from mathcoder_local.errors import UserError
from mathcoder_local.formats.tora import OUTPUT_STOP

_TAG_CANDIDATES = "\x01\x02\x03\x04\x05\x06\x07\x0e\x0f\x10\x11\x12\x13\x14\x15\x16\x17\x18\x19\x1a"
_prompt_lock = threading.Lock()
_text_prompts: dict[str, bool] = {}  # URL -> the server wants the prompt as text, not token ids


def _gbnf_char(ch: str) -> str:
    return f"\\x{ord(ch):02x}"


class OpenAIEngine(RemoteEngine):
    kind = "openai"

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.dialect = self.server.dialect
        self._tags: tuple[str, str, str] | None = None

    # --- requests ---------------------------------------------------------------------------------------

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
        if self.dialect == "vllm":
            body.update(top_k=sampling.top_k or -1, min_p=0.0, repetition_penalty=1.0)
        else:
            body.update(
                top_k=sampling.top_k,
                min_p=0.0,
                repeat_penalty=1.0,
                presence_penalty=0.0,
                frequency_penalty=0.0,
                cache_prompt=True,
            )
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
        choices = answer.get("choices")
        if not isinstance(choices, list) or not choices or not isinstance(choices[0], dict):
            raise UserError(f"{self.url}/v1/completions answered without choices")
        choice = dict(choices[0])
        usage = answer.get("usage")
        choice["_completion_tokens"] = usage.get("completion_tokens") if isinstance(usage, dict) else None
        return choice

    def _step(self, sequence: list[int], sampling: SamplingParams, max_tokens: int) -> list[int]:
        if self.dialect == "vllm":
            return self._vllm_step(sequence, sampling, max_tokens)
        if self.mathcoder_ids is not None:
            return self._mathcoder_step(sequence, sampling, max_tokens)
        return self._tora_step(sequence, sampling, max_tokens)

    # --- llama.cpp dialect: MathCoder -------------------------------------------------------------------

    def tags(self) -> tuple[str, str, str]:
        """Three characters that are each one token of this vocabulary (byte tokens), used as end tags."""
        if self._tags is None:
            found = []
            for ch in _TAG_CANDIDATES:
                ids = self.text_tokens(ch, after_special=False)
                if len(ids) == 1 and self.token_bytes(ids[0]) == ch.encode():
                    found.append(ch)
                if len(found) == 3:
                    break
            if len(found) < 3:
                raise UserError("this vocabulary has no single-byte control-character tokens to mark block ends")
            self._tags = (found[0], found[1], found[2])
        return self._tags

    def _block_state(self, sequence: Sequence[int]) -> str:
        ids = self.mathcoder_ids
        assert ids is not None
        for token in reversed(sequence):
            if token in (ids["<|text|>"], ids["<|execution|>"]):
                return "text"
            if token == ids["<|code|>"]:
                return "code"
            if token in self._specials:
                return "between"
        return "between"

    def _body_rule(self) -> str:
        tags = "".join(_gbnf_char(t) for t in self.tags())
        return f'body ::= ( [^<{tags}] | "<"+ [^<|{tags}] )*'

    def _mathcoder_step(self, sequence: list[int], sampling: SamplingParams, max_tokens: int) -> list[int]:
        ids = self.mathcoder_ids
        assert ids is not None
        tag_text, tag_code, tag_end = self.tags()
        eom = ids["<|endofmessage|>"]
        eom_is_eog = self.is_end_of_generation(eom)
        state = self._block_state(sequence)
        if state == "between":
            choices = f'<|text|> "{_gbnf_char(tag_text)}" | <|code|> "{_gbnf_char(tag_code)}"'
            grammar = (
                f"root ::= ( {choices} )?"
                if eom_is_eog
                else f'root ::= {choices} | <|endofmessage|> "{_gbnf_char(tag_end)}"'
            )
            body = {**self._body(sequence, 2, sampling), "grammar": grammar}
            choice = self._complete(sequence, body)
            text = str(choice.get("text") or "")
            if text.endswith(tag_text):
                return [ids["<|text|>"]]
            if text.endswith(tag_code):
                return [ids["<|code|>"]]
            if text.endswith(tag_end) or (not text and choice.get("finish_reason") == "stop"):
                return [eom if eom_is_eog or text else self.eos_id]
            raise UserError(
                f"{self.url} did not follow the block grammar (answered {text!r}); is it a llama.cpp server?"
            )
        grammar = f'root ::= body <|endofblock|> "{_gbnf_char(tag_text)}"\n{self._body_rule()}'
        body = {**self._body(sequence, max_tokens, sampling), "grammar": grammar}
        choice = self._complete(sequence, body)
        text = str(choice.get("text") or "")
        complete = text.endswith(tag_text)
        if complete:
            text = text[: -len(tag_text)]
        # A request cut short right after the invisible <|endofblock|> looks like a cut body: the next request
        # continues the body and the model closes it again, so nothing is lost.
        out = self.text_tokens(text, after_special=self.is_special(sequence[-1]))
        if complete:
            out.append(ids["<|endofblock|>"])
        return out

    # --- llama.cpp dialect: ToRA ------------------------------------------------------------------------

    def _tora_step(self, sequence: list[int], sampling: SamplingParams, max_tokens: int) -> list[int]:
        body = {**self._body(sequence, max_tokens, sampling), "stop": [OUTPUT_STOP]}
        choice = self._complete(sequence, body)
        text = str(choice.get("text") or "")
        out = self.text_tokens(text, after_special=False)
        if choice.get("finish_reason") != "stop":
            return out
        counted = choice.get("_completion_tokens")
        stopped = isinstance(counted, int) and counted > len(out)
        if counted is None:
            stopped = text.rstrip().endswith("```")
        if stopped:  # the model wrote ```output: keep it, the tracker runs the code
            return self.text_tokens(text + OUTPUT_STOP, after_special=False)
        return [*out, self.eos_id]

    # --- vLLM dialect -----------------------------------------------------------------------------------

    def _vllm_step(self, sequence: list[int], sampling: SamplingParams, max_tokens: int) -> list[int]:
        if self.mathcoder_ids is not None:
            stops = ["<|endofblock|>", "<|endofmessage|>"]
        else:
            stops = [OUTPUT_STOP]
        body = {
            **self._body(sequence, max_tokens, sampling),
            "stop": stops,
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
            out = self._tokens_with_specials(str(choice.get("text") or ""), self.is_special(sequence[-1]))
        ended = choice.get("finish_reason") == "stop" and choice.get("stop_reason") is None
        if ended and (not out or not self.is_end_of_generation(out[-1])):
            out.append(self.eos_id)
        return out

    def _tokens_with_specials(self, text: str, after_special: bool) -> list[int]:
        pieces = sorted((self.special_text(t) for t in self._specials), key=len, reverse=True)
        if not pieces:
            return self.text_tokens(text, after_special=after_special)
        out: list[int] = []
        for part in re.split("(" + "|".join(map(re.escape, pieces)) + ")", text):
            if not part:
                continue
            token = self.token_id(part) if part in pieces else None
            if token is not None:
                out.append(token)
                after_special = True
            else:
                out += self.text_tokens(part, after_special=after_special)
                after_special = False
        return out


def _token_ids(choice: dict[str, object]) -> list[int] | None:
    ids = choice.get("token_ids")
    if isinstance(ids, list) and all(isinstance(i, int) for i in ids):
        return list(ids)
    logprobs = choice.get("logprobs")
    tokens = logprobs.get("tokens") if isinstance(logprobs, dict) else None
    if isinstance(tokens, list) and tokens and all(isinstance(t, str) and t.startswith("token_id:") for t in tokens):
        return [int(t.split(":", 1)[1]) for t in tokens]
    return None
