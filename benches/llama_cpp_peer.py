"""llama.cpp's own speed on the SmolLM2 GGUF, one thread, for benches/llama.mjs: a prompt of given token ids
(prefill), then greedy decoding of N tokens with end-of-generation ignored. Prints one JSON object.

Needs llama-cpp-python built from source for this CPU (AVX2 etc.), in its own venv, e.g.:
  python3 -m venv /tmp/lcpvenv && /tmp/lcpvenv/bin/pip install cmake ninja scikit-build-core
  CMAKE_ARGS="-DGGML_NATIVE=ON" /tmp/lcpvenv/bin/pip install --no-build-isolation llama-cpp-python==0.3.36
Usage: python llama_cpp_peer.py MODEL PROMPT_IDS_JSON N_PREDICT RUNS
"""
import json
import sys
import time

import llama_cpp


def main():
    model, ids, n_predict, runs = sys.argv[1], json.loads(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
    llm = llama_cpp.Llama(model_path=model, n_ctx=2048, n_batch=512, n_threads=1, n_threads_batch=1,
                          verbose=False, logits_all=False)
    samples = []
    for _ in range(runs):
        llm.reset()
        llm._ctx.kv_cache_clear() if hasattr(llm._ctx, "kv_cache_clear") else None
        start = time.perf_counter()
        llm.eval(ids)
        prefill = time.perf_counter() - start
        start = time.perf_counter()
        for _ in range(n_predict):
            token = int(llm._scores[llm.n_tokens - 1].argmax()) if llm._scores.size else 0
            llm.eval([token])
        decode = time.perf_counter() - start
        samples.append({"prefill_tokens_per_s": len(ids) / prefill, "decode_tokens_per_s": n_predict / decode})
    print(json.dumps({"llama_cpp_peer.python": llama_cpp.__version__, "system_info": llama_cpp.llama_print_system_info().decode(),
                      "samples": samples}))


main()
