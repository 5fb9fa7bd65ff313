"""The peers' side of benches/methods.mjs, timed in the same session on LLMFAO crowd votes: choix (Plackett-Luce /
BT by MM on decisive battles), openskill 6.2.0 (Weng-Lin Plackett-Luce over every vote), scipy's HiGHS LP (the Nash
equilibrium of the NLHF payoff arbiter builds, read from stdin as JSON), crowd-kit (Dawid-Skene), scipy
(Spearman + Kendall). Prints one JSON object of median seconds. Usage: .venv/bin/python benches/methods_peers.py < payoff.json"""
import json
import statistics
import sys
import time
from pathlib import Path

import choix
import numpy as np
import pandas as pd
from crowdkit.aggregation import DawidSkene
from openskill.models import PlackettLuce
from scipy.optimize import linprog
from scipy.stats import kendalltau, spearmanr

CSV = Path(__file__).resolve().parents[1] / "../shared/data/llmfao/crowd-comparisons.csv"


def median_time(fn, repeat):
    fn()
    samples = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        samples.append(time.perf_counter() - t)
    return statistics.median(samples)


raw = pd.read_csv(CSV)
models = sorted(set(raw["left"]) | set(raw["right"]))
index = {m: i for i, m in enumerate(models)}
decisive = [(index[l], index[r]) if w == "left" else (index[r], index[l])
            for l, r, w in zip(raw["left"], raw["right"], raw["winner"]) if w != "tie"]


def choix_mm():
    choix.mm_pairwise(len(models), decisive, tol=1e-8, max_iter=10000)


def openskill_run():
    model = PlackettLuce()
    ratings = {m: model.rating() for m in models}
    for l, r, w in zip(raw["left"], raw["right"], raw["winner"]):
        ranks = [1, 1] if w == "tie" else ([1, 2] if w == "left" else [2, 1])
        [[a], [b]] = model.rate([[ratings[l]], [ratings[r]]], ranks=ranks)
        ratings[l], ratings[r] = a, b


payoff = json.load(sys.stdin)
A = np.array(payoff["matrix"]).reshape(payoff["n"], payoff["n"])


def nash_lp():
    # max v s.t. Aᵀx ≥ v, Σx = 1, x ≥ 0  →  min −v.
    n = A.shape[0]
    c = np.zeros(n + 1)
    c[-1] = -1.0
    a_ub = np.hstack([-A.T, np.ones((n, 1))])
    a_eq = np.hstack([np.ones((1, n)), np.zeros((1, 1))])
    linprog(c, A_ub=a_ub, b_ub=np.zeros(n), A_eq=a_eq, b_eq=[1.0], bounds=[(0, None)] * n + [(None, None)],
            method="highs")


# Dawid-Skene: items = (id, pair) with labels aligned to the item's first-seen sides.
first = {}
labels = []
for i, l, r, w, worker in zip(raw["id"], raw["left"], raw["right"], raw["winner"], raw["worker"]):
    key = (i, min(l, r), max(l, r))
    side = first.setdefault(key, l)
    label = "tie" if w == "tie" else ("a" if (w == "left") == (side == l) else "b")
    labels.append((f"{key}", worker, label))
ds_frame = pd.DataFrame(labels, columns=["task", "worker", "label"])


def dawid_skene():
    DawidSkene(n_iter=100).fit_predict(ds_frame)


rng = np.random.default_rng(0)
x, y = rng.normal(size=59), rng.normal(size=59)


def correlations():
    spearmanr(x, y)
    kendalltau(x, y)


print(json.dumps({
    "choix_mm_pairwise_s": median_time(choix_mm, 5),
    "openskill_pl_s": median_time(openskill_run, 3),
    "scipy_highs_nash_s": median_time(nash_lp, 20),
    "crowdkit_dawid_skene_s": median_time(dawid_skene, 3),
    "scipy_correlations_s": median_time(correlations, 50),
}))
