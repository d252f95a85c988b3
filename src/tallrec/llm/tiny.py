"""A tiny random Llama with the default model's real tokenizer: the model of the test suite and of
the smoke checks (benchmarks/gpu_check.py, plan_check.py), which must run on any machine in seconds.

The real tokenizer exercises answer-token discovery and truncation for real; 2 layers of width 32
make every forward pass cheap. Its scores mean nothing.
"""

from __future__ import annotations

from pathlib import Path


def tiny_model(folder: str | Path, tokenizer_from: str | Path | None = None, seed: int = 0) -> Path:
    """Write the tiny model into `folder` (a HF folder); the tokenizer comes from `tokenizer_from`
    (a HF folder) or, by default, from the registry model's GGUF package."""
    import torch
    from transformers import AutoTokenizer, LlamaConfig, LlamaForCausalLM

    if tokenizer_from is not None:
        tok = AutoTokenizer.from_pretrained(str(tokenizer_from))
    else:
        from .models import registry_gguf

        gguf = registry_gguf("smollm2-135m")
        tok = AutoTokenizer.from_pretrained(gguf.parent, gguf_file=gguf.name)
    cfg = LlamaConfig(vocab_size=len(tok), hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                      num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=2048,
                      tie_word_embeddings=True, bos_token_id=tok.bos_token_id, eos_token_id=tok.eos_token_id)
    torch.manual_seed(seed)
    LlamaForCausalLM(cfg).save_pretrained(folder)
    tok.save_pretrained(folder)
    return Path(folder)
