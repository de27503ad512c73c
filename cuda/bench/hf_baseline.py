#!/usr/bin/env python3
"""Hugging Face transformers on the same GPU and shapes as tidepool-engine-bench (BENCHMARKS.md §2).

Builds a randomly initialised Qwen2 model of the named shape (no hub download: these machines have no
network) in bfloat16 and times, with the median of several runs (CUDA events on a GPU):
  decode: one token for batch {1, 8, 32} with a KV cache of context {128, 1024};
  prefill: one sequence of {128, 1024, 2048} tokens.
Prints one JSON line: {"decode": [{batch, context, ms}], "prefill": [{tokens, ms}], "device", "transformers"}.
`--shape tiny --device cpu` is a smoke test of the script itself (seconds, any machine with torch).
"""
import argparse
import json
import time

import torch
import transformers
from transformers import Qwen2Config, Qwen2ForCausalLM

SHAPES = {
    "qwen2.5-7b": dict(hidden_size=3584, intermediate_size=18944, num_hidden_layers=28, num_attention_heads=28,
                       num_key_value_heads=4, vocab_size=152064, tie_word_embeddings=False),
    "qwen2.5-1.5b": dict(hidden_size=1536, intermediate_size=8960, num_hidden_layers=28, num_attention_heads=12,
                         num_key_value_heads=2, vocab_size=151936, tie_word_embeddings=True),
    "qwen2.5-0.5b": dict(hidden_size=896, intermediate_size=4864, num_hidden_layers=24, num_attention_heads=14,
                         num_key_value_heads=2, vocab_size=151936, tie_word_embeddings=True),
    "tiny": dict(hidden_size=64, intermediate_size=128, num_hidden_layers=2, num_attention_heads=4,
                 num_key_value_heads=2, vocab_size=512, tie_word_embeddings=True),
}


def timed(fn, device, warm=2, reps=10):
    """Median milliseconds of fn(); CUDA events on a GPU, the host clock after a synchronisation elsewhere."""
    for _ in range(warm):
        fn()
    times = []
    for _ in range(reps):
        if device == "cuda":
            start, stop = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
            start.record()
            fn()
            stop.record()
            torch.cuda.synchronize()
            times.append(start.elapsed_time(stop))
        else:
            t0 = time.perf_counter()
            fn()
            times.append((time.perf_counter() - t0) * 1000)
    times.sort()
    return times[len(times) // 2]


@torch.inference_mode()
def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--shape", default="qwen2.5-7b", choices=sorted(SHAPES))
    parser.add_argument("--device", default="cuda", choices=["cuda", "cpu"])
    args = parser.parse_args()
    config = Qwen2Config(max_position_embeddings=32768, rope_theta=1000000.0, rms_norm_eps=1e-6, **SHAPES[args.shape])
    torch.manual_seed(1)
    torch.set_default_dtype(torch.bfloat16)  # built in bf16 directly: a 7B model never exists in f32
    with torch.device(args.device):
        model = Qwen2ForCausalLM(config).eval()
    vocab = config.vocab_size
    device_name = torch.cuda.get_device_name(0) if args.device == "cuda" else "cpu"
    out = {"device": device_name, "transformers": transformers.__version__, "torch": torch.__version__, "decode": [], "prefill": []}
    for tokens in (128, 1024, 2048):
        ids = torch.randint(0, vocab, (1, tokens), device=args.device)
        out["prefill"].append({"tokens": tokens, "ms": timed(lambda: model(ids, use_cache=False), args.device, reps=5)})
    for context in (128, 1024):
        for batch in (1, 8, 32):
            ids = torch.randint(0, vocab, (batch, context - 1), device=args.device)
            cache = model(ids, use_cache=True).past_key_values
            step = torch.randint(0, vocab, (batch, 1), device=args.device)

            def decode_one():
                # Same cache every time: drop the token just added so each step sees context - 1 before it.
                model(step, past_key_values=cache, use_cache=True)
                cache.crop(-1)

            out["decode"].append({"batch": batch, "context": context, "ms": timed(decode_one, args.device)})
            del cache
            if args.device == "cuda":
                torch.cuda.empty_cache()
    print(json.dumps(out))


if __name__ == "__main__":
    main()
