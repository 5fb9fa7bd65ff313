#!/usr/bin/env python3
"""Golden for arena-rank's reweighted Bradley-Terry (inverse pair-frequency weights) with sandwich CIs on LLMFAO.

    .venv/bin/python scripts/golden/make_reweighted.py      -> tests/golden/llmfao-reweighted.json

Same conventions as make_goldens.py (LLMFAO crowd votes as LMArena battles, fit run to convergence with ftol=0);
kept separate because make_goldens.py also runs arena-rank's 40-minute bootstrap. Only calls the peer.
"""
import json
import math
from importlib.metadata import version
from pathlib import Path

import jax
import jax.numpy as jnp
import pandas as pd
from arena_rank.models.bradley_terry import BradleyTerry
from arena_rank.utils.data_utils import PairDataset

REPO = Path(__file__).resolve().parents[2]
CSV = REPO.parent / "shared" / "data" / "llmfao" / "crowd-comparisons.csv"
OUT = REPO / "tests" / "golden" / "llmfao-reweighted.json"
MIN_PAIR_COUNT = 50

raw = pd.read_csv(CSV)
df = pd.DataFrame({"model_a": raw["left"], "model_b": raw["right"],
                   "winner": raw["winner"].map({"left": "model_a", "right": "model_b", "tie": "tie"})})
dataset = PairDataset.from_pandas(df, reweighted=True, min_pair_count=MIN_PAIR_COUNT)
model = BradleyTerry(dataset.n_competitors, max_iter=100_000, gtol=1e-13, ftol=0.0)
model.fit(dataset)
grad = jax.grad(BradleyTerry.loss_function)(model.params, dataset.as_dict())["ratings"]
grad_inf = float(jnp.max(jnp.abs(grad)))
assert grad_inf < 1e-10, grad_inf
res = model.compute_ratings_and_cis(dataset, significance_level=0.05, ci_method="sandwich")
models = list(res["competitors"])
pick = lambda key: {m: float(v) for m, v in zip(models, res[key])}
OUT.write_text(json.dumps({
    "source": "../shared/data/llmfao/crowd-comparisons.csv (left->model_a, right->model_b)",
    "generated_with": ".venv/bin/python scripts/golden/make_reweighted.py",
    "arena_rank_version": version("arena-rank"),
    "reweighted": True, "min_pair_count": MIN_PAIR_COUNT, "hessian_reg": model.hessian_reg,
    "grad_inf_norm_mean_loss": grad_inf,
    "ratings": pick("ratings"), "rating_lower": pick("rating_lower"), "rating_upper": pick("rating_upper"),
    "variances": pick("variances"),
}, indent=1) + "\n")
print(f"wrote {OUT} (|grad| {grad_inf:.2e})")
