#!/usr/bin/env python3
"""Style-control goldens: FastChat's and arena-rank's contextual Bradley-Terry on LLMFAO crowd votes, with the
LMArena style features counted from the responses the crowd compared.

Run from the repository root (about a minute):

    .venv/bin/python scripts/golden/make_style.py --fastchat-src DIR

DIR holds FastChat's `fastchat/serve/monitor/rating_systems.py` and `add_markdown_info.py` (they are not in the
PyPI release fschat 0.2.36; take them from a FastChat checkout, e.g. commit 0e6d3e4 of lm-sys/FastChat). The script
imports and calls them; no FastChat or arena-rank code is copied into this project.

Battles: ../shared/data/llmfao/crowd-comparisons.csv in file order, model_a = left (model_x), model_b = right
(model_y), winner left/right/tie -> model_a/model_b/tie. Each side's response is `result` of
../shared/data/llmfao/results.jsonl for (prompt, model); a missing text counts as "".

Features (computed here independently of arbiter, the Rust test checks its own counts against them):
  sum_assistant_*_tokens  len(tiktoken cl100k_base .encode(text, allowed_special="all")), as FastChat's
                          clean_battle_data.py (encoding_for_model("gpt-3.5-turbo") is cl100k_base)
  header/list/bold counts FastChat's count_markdown_elements(remove_pattern(text, ```...```))

References, fed the same counts:
  fastchat        rating_systems.compute_style_control(df) (d = ratio with +1, z-scored, L-BFGS-B, reg 0.5), as run
                  by LMArena: scipy stops it early (max |gradient| ~ 0.07)
  fastchat_converged  the same FastChat objective and gradient minimised to convergence (L-BFGS-B, ftol off)
  arena_rank      ContextualBradleyTerry on the same d columns (normalize_features=True), reweighted False and True (min_pair_count 1),
                  run to convergence; ratings + sandwich intervals + coefficients
  arena_rank_defaults  the same with arena-rank's default stopping rule, for the record

tiktoken needs the cl100k_base file offline: it is taken from the tiktoken-rs crate in ~/.cargo/registry (same
sha256 as OpenAI's) and put in a TIKTOKEN_CACHE_DIR under its cache key.
"""

from __future__ import annotations

import argparse
import glob
import hashlib
import importlib.util
import json
import os
import shutil
import sys
import tempfile
from importlib.metadata import version
from pathlib import Path

import numpy as np
import pandas as pd

REPO = Path(__file__).resolve().parents[2]
DATA = REPO.parent / "shared" / "data" / "llmfao"
OUT = REPO / "tests" / "golden" / "llmfao-style.json"
CL100K_URL = "https://openaipublic.blob.core.windows.net/encodings/cl100k_base.tiktoken"


def offline_tiktoken():
    cache = Path(tempfile.mkdtemp(prefix="tiktoken-"))
    found = glob.glob(os.path.expanduser("~/.cargo/registry/src/*/tiktoken-rs-*/assets/cl100k_base.tiktoken"))
    if not found:
        sys.exit("cl100k_base.tiktoken not found: run `cargo fetch` first (tiktoken-rs ships it)")
    shutil.copy(found[0], cache / hashlib.sha1(CL100K_URL.encode()).hexdigest())
    os.environ["TIKTOKEN_CACHE_DIR"] = str(cache)
    import tiktoken

    return tiktoken.get_encoding("cl100k_base")


def load(path: Path, name: str):
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--fastchat-src", required=True, type=Path)
    args = parser.parse_args()
    rating_systems = load(args.fastchat_src / "rating_systems.py", "rating_systems")
    markdown = load(args.fastchat_src / "add_markdown_info.py", "add_markdown_info")
    enc = offline_tiktoken()

    texts = {}
    for line in open(DATA / "results.jsonl"):
        r = json.loads(line)
        texts[(r["prompt"], r["model"])] = r["result"] or ""
    code = __import__("re").compile("```([^`]*)```")

    def side_counts(text):
        m = markdown.count_markdown_elements(markdown.remove_pattern(text, code), suffix="")
        return {
            "tokens": len(enc.encode(text, allowed_special="all")),
            "header_count": sum(m["header_count"].values()),
            "list_count": sum(m["list_count"].values()),
            "bold_count": sum(m["bold_count"].values()),
        }

    counts = {f"{p}:{m}": side_counts(t) for (p, m), t in sorted(texts.items())}

    crowd = pd.read_csv(DATA / "crowd-comparisons.csv")
    winner = {"left": "model_a", "right": "model_b", "tie": "tie"}
    rows = []
    for r in crowd.itertuples():
        a, b = counts[f"{r.prompt}:{r.model_x}"], counts[f"{r.prompt}:{r.model_y}"]
        meta = {
            "sum_assistant_a_tokens": a["tokens"],
            "sum_assistant_b_tokens": b["tokens"],
        }
        for f in ("header_count", "list_count", "bold_count"):
            meta[f"{f}_a"], meta[f"{f}_b"] = a[f], b[f]
        rows.append({"model_a": r.left, "model_b": r.right, "winner": winner[r.winner], "conv_metadata": meta})
    df = pd.DataFrame(rows)

    # FastChat as LMArena runs it (alpha = ln 10, reg 0.5, L-BFGS-B maxiter 100, gtol 1e-6). scipy stops it on
    # the relative reduction of the loss with max |gradient| ~ 0.07, so it is also minimised to convergence: the same
    # FastChat objective and gradient (contextual_bt_loss_and_grad on preprocess_for_style's matrices), with
    # L-BFGS-B's ftol test off.
    out = {"battles": len(df), "counts": counts, "versions": {}}
    ratings, params = rating_systems.compute_style_control(df)
    out["fastchat"] = {"ratings": {m: float(v) for m, v in ratings.items()}, "coefficients": params.tolist()}
    from scipy.optimize import minimize

    matchups, features, outcomes, models = rating_systems.preprocess_for_style(df)
    n = len(models)
    res = minimize(
        rating_systems.contextual_bt_loss_and_grad,
        np.zeros(n + features.shape[1]),
        args=(n, matchups, features, outcomes, np.log(10.0), 0.5, 0.25),
        jac=True,
        method="L-BFGS-B",
        options={"maxiter": 100000, "gtol": 1e-11, "ftol": 0.0, "maxcor": 50},
    )
    scaled = rating_systems.scale_and_offset(res.x[:n], models, 400.0, 1000.0)
    out["fastchat_converged"] = {
        "ratings": {m: float(v) for m, v in zip(models, scaled)},
        "coefficients": res.x[n:].tolist(),
        "max_abs_gradient": float(np.abs(res.jac).max()),
    }

    # arena-rank on the same d = (a - b) / (a + b + 1) columns.
    from arena_rank.models.contextual_bradley_terry import ContextualBradleyTerry
    from arena_rank.utils.data_utils import ContextualPairDataset

    names = ["sum_assistant_tokens", "header_count", "list_count", "bold_count"]
    keys = [("sum_assistant_a_tokens", "sum_assistant_b_tokens")] + [(f"{f}_a", f"{f}_b") for f in names[1:]]
    for f, (ka, kb) in zip(names, keys):
        va = df.conv_metadata.map(lambda m: m[ka]).astype(float)
        vb = df.conv_metadata.map(lambda m: m[kb]).astype(float)
        df[f] = (va - vb) / (va + vb + 1.0)
    # Like FastChat, arena-rank's defaults (ftol 1e-9 on the relative loss change) stop short of the optimum, so it
    # runs to convergence (ftol off, gtol 1e-13 on its mean loss), as the plain-BT goldens do; the default run is kept
    # for the record.
    converge = dict(max_iter=100_000, gtol=1e-13, ftol=0.0)
    runs = (("arena_rank", False, converge), ("arena_rank_reweighted", True, converge), ("arena_rank_defaults", False, {}))
    for name, reweighted, fit in runs:
        # min_pair_count 1: LLMFAO pairs have fewer than 50 votes, so the default would make every weight equal.
        data = ContextualPairDataset.from_pandas(df, feature_cols=names, reweighted=reweighted, min_pair_count=1)
        model = ContextualBradleyTerry(n_competitors=len(data.competitors), n_features=len(names), **fit)
        res = model.compute_ratings_and_cis(data, significance_level=0.05, ci_method="sandwich")
        import jax

        grad = jax.grad(model.loss_function)(model.params, data.as_dict())
        out[name] = {
            "max_abs_gradient_mean_loss": float(max(abs(grad["ratings"]).max(), abs(grad["coeffs"]).max())),
            "ratings": {m: float(v) for m, v in zip(res["competitors"], res["ratings"])},
            "lower": {m: float(v) for m, v in zip(res["competitors"], res["rating_lower"])},
            "upper": {m: float(v) for m, v in zip(res["competitors"], res["rating_upper"])},
            "coefficients": [float(c) for c in res["coeffs"]],
        }
    out["feature_names"] = names
    for p in ("arena-rank", "jax", "numpy", "scipy", "pandas", "tiktoken"):
        out["versions"][p] = version(p)
    out["versions"]["fastchat"] = "lm-sys/FastChat rating_systems.py + add_markdown_info.py (--fastchat-src)"
    OUT.write_text(json.dumps(out, indent=1, sort_keys=True) + "\n")
    print(f"wrote {OUT}")
    gap = max(abs(out["fastchat"]["ratings"][m] - out["fastchat_converged"]["ratings"][m]) for m in models)
    print(f"FastChat defaults vs converged: max |ΔElo| = {gap:.2e}")


if __name__ == "__main__":
    main()
