"""Exports all-MiniLM-L6-v2 to ONNX for benches/encoder.mjs (arbiter vs onnxruntime-web on the same model).

Writes <models>/all-MiniLM-L6-v2/onnx/model.onnx (skipped when it exists): inputs input_ids, attention_mask,
token_type_ids (int64, dynamic batch and sequence), output last_hidden_state. Pooling (mean over the mask, L2 norm)
is left to the caller so both libraries in the benchmark do the same work. Then checks the file with onnxruntime
against sentence-transformers' embeddings (cosine > 0.9999).

Usage: .venv/bin/python scripts/export-onnx.py [--models DIR] [--force]
Needs torch, transformers, sentence-transformers, onnx, onnxruntime (pinned in scripts/golden/requirements.txt).
"""

import argparse
import os
import sys
from pathlib import Path

import numpy as np
import torch

NAME = "all-MiniLM-L6-v2"
TEXTS = [
    "The quick brown fox jumps over the lazy dog.",
    "Which model answered the question better?",
    "Bradley-Terry ratings with sandwich confidence intervals, computed in the browser.",
    "a",
    "Un texte en français, avec des accents: élève, déjà, où.",
]


class Body(torch.nn.Module):
    """BertModel with positional inputs and the last hidden state as the only output."""

    def __init__(self, bert):
        super().__init__()
        self.bert = bert

    def forward(self, input_ids, attention_mask, token_type_ids):
        return self.bert(input_ids=input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids).last_hidden_state


def export(folder: Path, out: Path) -> None:
    from transformers import AutoModel, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(folder)
    # Eager attention traces to plain MatMul/Softmax ops that every ONNX Runtime backend runs.
    bert = AutoModel.from_pretrained(folder, attn_implementation="eager").eval()
    sample = tokenizer(["hello world", "a longer second sentence to pad against"], padding=True, return_tensors="pt")
    args = (sample["input_ids"], sample["attention_mask"], sample["token_type_ids"])
    axes = {0: "batch", 1: "sequence"}
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_suffix(".onnx.tmp")
    with torch.no_grad():
        torch.onnx.export(
            Body(bert),
            args,
            str(tmp),
            input_names=["input_ids", "attention_mask", "token_type_ids"],
            output_names=["last_hidden_state"],
            dynamic_axes={"input_ids": axes, "attention_mask": axes, "token_type_ids": axes, "last_hidden_state": axes},
            opset_version=17,
            do_constant_folding=True,
            dynamo=False,
        )
    import onnx

    model = onnx.load(str(tmp))
    onnx.checker.check_model(model)
    tmp.replace(out)


def check(folder: Path, out: Path) -> float:
    import onnxruntime as ort
    from sentence_transformers import SentenceTransformer
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(folder)
    reference = SentenceTransformer(str(folder), device="cpu").encode(TEXTS, normalize_embeddings=True)
    session = ort.InferenceSession(str(out), providers=["CPUExecutionProvider"])

    def embed(texts):
        batch = tokenizer(texts, padding=True, truncation=True, max_length=256, return_tensors="np")
        feeds = {k: batch[k].astype(np.int64) for k in ("input_ids", "attention_mask", "token_type_ids")}
        (hidden,) = session.run(["last_hidden_state"], feeds)
        mask = feeds["attention_mask"][..., None].astype(np.float32)
        pooled = (hidden * mask).sum(1) / np.maximum(mask.sum(1), 1e-9)
        return pooled / np.linalg.norm(pooled, axis=1, keepdims=True)

    # The whole list (padded batch) and each text alone: other shapes than the one traced.
    together = embed(TEXTS)
    alone = np.concatenate([embed([t]) for t in TEXTS])
    return float(min((together * reference).sum(1).min(), (alone * reference).sum(1).min()))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    default = os.environ.get("ARBITER_MODELS") or str(Path.home() / ".cache" / "arbiter" / "models")
    parser.add_argument("--models", default=default, help="folder holding all-MiniLM-L6-v2/ (default $ARBITER_MODELS or ~/.cache/arbiter/models)")
    parser.add_argument("--force", action="store_true", help="export again even if model.onnx exists")
    args = parser.parse_args()
    folder = Path(args.models) / NAME
    out = folder / "onnx" / "model.onnx"
    if not (folder / "model.safetensors").exists():
        sys.exit(f"export-onnx: no {NAME} in {args.models} (model.safetensors missing)")
    if out.exists() and not args.force:
        print(f"export-onnx: {out} exists; skipped (--force to redo)")
    else:
        export(folder, out)
        print(f"export-onnx: wrote {out} ({out.stat().st_size / 1e6:.1f} MB)")
    cosine = check(folder, out)
    print(f"export-onnx: onnxruntime vs sentence-transformers, min cosine over {len(TEXTS)} texts: {cosine:.7f}")
    if cosine <= 0.9999:
        sys.exit("export-onnx: the export disagrees with sentence-transformers")


if __name__ == "__main__":
    main()
