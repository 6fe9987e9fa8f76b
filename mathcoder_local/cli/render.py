"""Rendering the solve loop's events on a terminal with rich (the CLI's view)."""

from __future__ import annotations

from rich.console import Console
from rich.panel import Panel
from rich.rule import Rule
from rich.syntax import Syntax
from rich.text import Text

from mathcoder_local.events import BlockEnded, BlockStarted, ExecutionResult, Finished, SolveEvent, TextDelta

STYLES = {"ok": "green", "error": "red", "timeout": "yellow"}  # an execution panel's border, by status


class TranscriptPrinter:
    """Text streams as it is generated; code is shown highlighted once its block is complete."""

    def __init__(self, console: Console) -> None:
        self.console = console

    def __call__(self, event: SolveEvent) -> None:
        c = self.console
        if isinstance(event, BlockStarted) and event.kind == "text":
            c.print()
        elif isinstance(event, TextDelta) and event.kind == "text":
            c.out(event.text, end="", highlight=False)
        elif isinstance(event, BlockEnded) and event.block.kind == "text":
            c.print()
        elif isinstance(event, BlockEnded) and event.block.kind == "code":
            code = Syntax(event.block.content, "python", theme="ansi_dark", word_wrap=True)
            c.print(Panel(code, title="code", title_align="left", border_style="cyan"))
        elif isinstance(event, BlockEnded) and event.block.kind == "execution":
            result = event.block.result or ExecutionResult()
            style = STYLES[result.status]
            c.print(Panel(Text(event.block.content), title=result.title, title_align="left", border_style=style))
        elif isinstance(event, Finished):
            s = event.stats
            c.print(Rule(style="dim"))
            c.print(Text.assemble(("Answer: ", "bold"), (event.answer or "(none)", "bold magenta")))
            c.print(
                f"[dim]{event.format} · finish: {event.finish_reason} · {s.generated_tokens} tokens · "
                f"{s.tokens_per_second:.1f} tok/s · {s.code_blocks} code blocks · {s.seconds:.1f} s[/dim]"
            )
