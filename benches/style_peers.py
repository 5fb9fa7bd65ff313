"""The peers' side of benches/style.mjs: style control on LLMFAO crowd votes with the style counts of
tests/golden/llmfao-style.json (the same features arbiter counts). Prints one JSON object of median seconds.
Usage: .venv/bin/python benches/style_peers.py [FASTCHAT_SRC_DIR]  (the directory with FastChat's rating_systems.py,
as for scripts/golden/make_style.py; without it only arena-rank is timed)."""
import json
import statistics
import sys
import time
from pathlib import Path

import pandas as pd
from arena_rank.models.contextual_bradley_terry import ContextualBradleyTerry
from arena_rank.utils.data_utils import ContextualPairDataset

ROOT = Path(__file__).resolve().parents[1]
golden = json.loads((ROOT / "tests/golden/llmfao-style.json").read_text())
crowd = pd.read_csv(ROOT / "../shared/data/llmfao/crowd-comparisons.csv")


def median_time(fn, repeat, warmup=True):
    if warmup:
        fn()
    samples = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        samples.append(time.perf_counter() - t)
    return statistics.median(samples)


rows = []
for r in crowd.itertuples():
    a, b = golden["counts"][f"{r.prompt}:{r.model_x}"], golden["counts"][f"{r.prompt}:{r.model_y}"]
    meta = {"sum_assistant_a_tokens": a["tokens"], "sum_assistant_b_tokens": b["tokens"]}
    for f in ("header_count", "list_count", "bold_count"):
        meta[f"{f}_a"], meta[f"{f}_b"] = a[f], b[f]
    row = {"model_a": r.left, "model_b": r.right, "conv_metadata": meta,
           "winner": {"left": "model_a", "right": "model_b", "tie": "tie"}[r.winner]}
    for f, (ka, kb) in zip(golden["feature_names"], [("sum_assistant_a_tokens", "sum_assistant_b_tokens")]
                           + [(f"{g}_a", f"{g}_b") for g in ("header_count", "list_count", "bold_count")]):
        row[f] = (meta[ka] - meta[kb]) / (meta[ka] + meta[kb] + 1)
    rows.append(row)
df = pd.DataFrame(rows)
data = ContextualPairDataset.from_pandas(df, feature_cols=golden["feature_names"], reweighted=False)


def arena_rank_fit_sandwich():
    model = ContextualBradleyTerry(n_competitors=len(data.competitors), n_features=4)
    model.compute_ratings_and_cis(data, ci_method="sandwich")


out = {"arena_rank_style_fit_sandwich_s": median_time(arena_rank_fit_sandwich, 3)}
if len(sys.argv) > 1:
    sys.path.insert(0, sys.argv[1])  # a plain import, so the bootstrap's worker processes can unpickle its functions
    import rating_systems as rs
    out["fastchat_style_fit_s"] = median_time(lambda: rs.compute_style_control(df), 5)
    t = time.perf_counter()
    rs.compute_bootstrap_style_control(df, num_round=100, num_cpu=2)
    out["fastchat_style_bootstrap_100_s"] = time.perf_counter() - t
print(json.dumps(out))
