"""The MathCoder turn grammar (GBNF with llama.cpp's token references); `engine.grammar` validates it."""

from __future__ import annotations

# Block contents: any text that does not contain "<|", so no special token's text can sneak in as characters.
_BODY = 'body ::= ( [^<] | "<"+ [^<|] )*'


def mathcoder_turn_grammar(*, end_of_message_is_eog: bool) -> str:
    """One generation segment of a MathCoder answer: text blocks, then one code block or the end.

    The model never opens an <|execution|> block: results come only from the executor. A segment stops at
    the end of a code block (the harness runs it) or at the end of the message. When <|endofmessage|> is an
    end-of-generation token, llama.cpp only lets it through where the grammar can end, so the grammar must
    end there instead of naming it.
    """
    ending = "code-block?" if end_of_message_is_eog else "( code-block | <|endofmessage|> )"
    return "\n".join(
        [
            f"root ::= text-block* {ending}",
            "text-block ::= <|text|> body <|endofblock|>",
            "code-block ::= <|code|> body <|endofblock|>",
            _BODY,
        ]
    )
