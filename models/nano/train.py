"""Train the nano MathCoder: a SentencePiece tokenizer, then a small LlamaForCausalLM, MathCoder's recipe.

    pip install -e ".[train]" && python models/nano/make_data.py && python models/nano/train.py

The loss is computed on text and code tokens only (the block tokens that open and close them included),
never on the prompt or on execution blocks, as in the MathCoder paper. CPU, 2 threads, fixed seed; writes
the checkpoint to models/nano/checkpoint/ in the Hugging Face layout of a MathCoder release
(added tokens as transformers 4.31 saved them: added_tokens.json only).
"""

from __future__ import annotations

import argparse
import json
import math
import random
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parents[1]))

from mathcoder_local.devtools.tiny_checkpoint import train_sentencepiece  # noqa: E402
from mathcoder_local.formats.mathcoder import SPECIAL_TOKENS  # noqa: E402

TRAIN = HERE / "build" / "train.jsonl"
OUT = HERE / "checkpoint"
SEED = 1234
MODEL = dict(hidden_size=192, intermediate_size=512, num_hidden_layers=4, num_attention_heads=4,
             num_key_value_heads=4, max_position_embeddings=512)  # fmt: skip


def encode(sp, ids: dict[str, int], row: dict) -> tuple[list[int], list[int]]:
    """Token ids and labels (-100 where no loss) of one solution, tokenized as llama.cpp will see it."""
    tokens = [sp.bos_id(), ids["<|system|>"], ids["<|text|>"], ids["<|endofblock|>"], ids["<|endofmessage|>"],
              ids["<|user|>"], ids["<|text|>"]]  # fmt: skip
    tokens += sp.encode(row["question"] + "\n") + [ids["<|endofblock|>"], ids["<|endofmessage|>"], ids["<|assistant|>"]]
    labels = [-100] * len(tokens)
    for block in row["blocks"]:
        part = [ids[f"<|{block['kind']}|>"], *sp.encode(block["content"]), ids["<|endofblock|>"]]
        tokens += part
        labels += [-100] * len(part) if block["kind"] == "execution" else part
    tokens.append(ids["<|endofmessage|>"])
    labels.append(ids["<|endofmessage|>"])
    # labels[i] is the token predicted at position i - 1 (transformers shifts them)
    return tokens, labels


def write_tokenizer(folder: Path, sp_model: bytes, n_pieces: int) -> dict[str, int]:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "tokenizer.model").write_bytes(sp_model)
    ids = {t: n_pieces + i for i, t in enumerate(SPECIAL_TOKENS)}
    (folder / "added_tokens.json").write_text(json.dumps(ids, indent=2) + "\n")
    (folder / "special_tokens_map.json").write_text(
        json.dumps({"bos_token": "<s>", "eos_token": "</s>", "unk_token": "<unk>"}, indent=2) + "\n"
    )
    config = {"add_bos_token": True, "add_eos_token": False, "bos_token": "<s>", "eos_token": "</s>",
              "unk_token": "<unk>", "legacy": True, "model_max_length": MODEL["max_position_embeddings"],
              "tokenizer_class": "LlamaTokenizer", "clean_up_tokenization_spaces": False}  # fmt: skip
    (folder / "tokenizer_config.json").write_text(json.dumps(config, indent=2) + "\n")
    return ids


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--steps", type=int, default=2400)
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--lr", type=float, default=2e-3)
    parser.add_argument("--vocab", type=int, default=640)
    args = parser.parse_args()

    import sentencepiece
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    random.seed(SEED)
    torch.manual_seed(SEED)
    torch.set_num_threads(2)
    rows = [json.loads(line) for line in TRAIN.read_text(encoding="utf-8").splitlines()]
    corpus = [r["question"] for r in rows] + [b["content"] for r in rows[:8000] for b in r["blocks"]]
    sp_model = train_sentencepiece(corpus, vocab_size=args.vocab)
    sp = sentencepiece.SentencePieceProcessor(model_proto=sp_model)
    ids = write_tokenizer(OUT, sp_model, sp.get_piece_size())
    examples = [encode(sp, ids, r) for r in rows]
    print(f"{len(examples)} examples, longest {max(len(t) for t, _ in examples)} tokens, vocab {sp.get_piece_size()}+8")

    config = LlamaConfig(vocab_size=sp.get_piece_size() + len(SPECIAL_TOKENS), rms_norm_eps=1e-5, rope_theta=10000.0,
                         bos_token_id=1, eos_token_id=2, tie_word_embeddings=False, **MODEL)  # fmt: skip
    model = LlamaForCausalLM(config)
    print(f"{sum(p.numel() for p in model.parameters()) / 1e6:.2f}M parameters")
    optimizer = torch.optim.AdamW(model.parameters(), lr=args.lr, weight_decay=0.01, betas=(0.9, 0.98))
    warmup = 100
    schedule = lambda s: min(1.0, (s + 1) / warmup) * 0.5 * (1 + math.cos(math.pi * min(s, args.steps) / args.steps))  # noqa: E731
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, schedule)
    order = list(range(len(examples)))
    start, cursor = time.time(), len(order)
    model.train()
    for step in range(args.steps):
        if cursor + args.batch > len(order):
            random.shuffle(order)
            cursor = 0
        batch = [examples[i] for i in order[cursor : cursor + args.batch]]
        cursor += args.batch
        width = max(len(t) for t, _ in batch)
        input_ids = torch.tensor([t + [0] * (width - len(t)) for t, _ in batch])
        labels = torch.tensor([lab + [-100] * (width - len(lab)) for _, lab in batch])
        mask = torch.tensor([[1] * len(t) + [0] * (width - len(t)) for t, _ in batch])
        loss = model(input_ids=input_ids, attention_mask=mask, labels=labels).loss
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        scheduler.step()
        optimizer.zero_grad(set_to_none=True)
        if step % 50 == 0 or step == args.steps - 1:
            print(f"step {step:5d}  loss {loss.item():.4f}  lr {scheduler.get_last_lr()[0]:.2e}  "
                  f"{time.time() - start:6.0f} s", flush=True)  # fmt: skip
    model.save_pretrained(OUT, safe_serialization=True)
    (OUT / "generation_config.json").unlink(missing_ok=True)
    print(f"saved to {OUT} after {time.time() - start:.0f} s")


if __name__ == "__main__":
    main()
