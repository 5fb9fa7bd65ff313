"""The peers' side of benches/node.mjs, timed in the same session: evalica (Rust core) Bradley-Terry, Elo and
bootstrap, arena-rank (JAX) Bradley-Terry + sandwich. Prints one JSON object of median seconds.
Usage: .venv/bin/python benches/peers.py [--quick]"""
import json
import statistics
import sys
import time
from pathlib import Path

import evalica
import pandas as pd
from arena_rank.models.bradley_terry import BradleyTerry
from arena_rank.utils.data_utils import PairDataset

CSV = Path(__file__).resolve().parents[1] / "../shared/data/llmfao/crowd-comparisons.csv"
quick = "--quick" in sys.argv


def median_time(fn, repeat, warmup=True):
    if warmup:
        fn()  # warm-up (JIT compilation for arena-rank)
    samples = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        samples.append(time.perf_counter() - t)
    return statistics.median(samples)


raw = pd.read_csv(CSV)
winners = raw["winner"].map({"left": evalica.Winner.X, "right": evalica.Winner.Y, "tie": evalica.Winner.Draw})
xs, ys = raw["left"], raw["right"]
df = pd.DataFrame({"model_a": xs, "model_b": ys,
                   "winner": raw["winner"].map({"left": "model_a", "right": "model_b", "tie": "tie"})})
dataset = PairDataset.from_pandas(df)


def arena_rank_fit_sandwich():
    model = BradleyTerry(dataset.n_competitors)
    model.compute_ratings_and_cis(dataset, ci_method="sandwich")


fitted = BradleyTerry(dataset.n_competitors)
fitted.fit(dataset)


out = {
    "evalica_bt_s": median_time(lambda: evalica.bradley_terry(xs, ys, winners), 20),
    "evalica_elo_s": median_time(lambda: evalica.elo(xs, ys, winners), 20),
    # A fresh model: arena-rank jit-compiles its optimiser on every fit, which is what a caller pays.
    "arena_rank_fit_sandwich_s": median_time(arena_rank_fit_sandwich, 3),
    "arena_rank_sandwich_warm_s": median_time(
        lambda: fitted.compute_ratings_and_cis(dataset, ci_method="sandwich"), 10),
    "evalica_bootstrap_s": median_time(
        lambda: evalica.bootstrap(evalica.bradley_terry, xs=xs, ys=ys, winners=winners,
                                  n_resamples=100 if quick else 1000, confidence_level=0.95,
                                  bootstrap_method="percentile", random_state=0), 1, warmup=False),
}
if quick:
    out["evalica_bootstrap_s"] *= 10  # 100 rounds timed, scaled to 1000
print(json.dumps(out))
