#!/usr/bin/env python3
"""Write the peer-reference ("golden") values that the Rust tests compare against.

Run from the repository root with the pinned peers installed (scripts/golden/requirements.txt):

    .venv/bin/python scripts/golden/make_goldens.py

Output: tests/golden/llmfao.json. The script only *calls* the peer libraries
(arena-rank, evalica, choix); none of their code is copied into this project.

Input: the LLMFAO crowd comparisons (../shared/data/llmfao/crowd-comparisons.csv,
columns id,prompt,model_x,model_y,worker,winner,left,right with winner in
{left,right,tie}), converted to LMArena battles in file order:
model_a = left, model_b = right, winner left->"model_a", right->"model_b", tie->"tie".

Goldens written:
  arena_rank_bt       arena_rank BradleyTerry run to convergence, plus sandwich CIs
  evalica_bt          evalica.bradley_terry strengths mapped to the Elo scale
  evalica_elo         evalica.elo (online, file order, k=4)
  bootstrap           1000-round 95% percentile intervals from evalica.bootstrap and
                      from arena_rank's own bootstrap
  choix_pairwise      the choix pairwise test cases (data + reference ML estimate)
  choix_computed      choix's own I-LSR estimate of the same cases, as a check
  cross_checks        agreement between the peers and with evalica's shipped goldens
  timings             wall-clock seconds of each peer call (peer side of benchmark ratios)

The converted battles are NOT written to tests/: the Rust tests read the CSV directly.
"""

from __future__ import annotations

import contextlib
import glob
import hashlib
import io
import json
import math
import multiprocessing
import os
import platform
import re
import sys
import time
from importlib.metadata import version
from pathlib import Path

import choix
import evalica
import jax
import jax.numpy as jnp
import numpy as np
import pandas as pd
from arena_rank.models.bradley_terry import BradleyTerry
from arena_rank.utils.data_utils import PairDataset

# --- Paths -----------------------------------------------------------------------------------
REPO = Path(__file__).resolve().parents[2]
DATA = REPO.parent / "shared" / "data"
CROWD_CSV = DATA / "llmfao" / "crowd-comparisons.csv"
EVALICA_GOLDEN_CSV = DATA / "llmfao" / "evalica-llmfao-golden.csv"  # shipped with evalica's own tests
CHOIX_FIXTURES = DATA / "fixtures" / "choix"
OUT = REPO / "tests" / "golden" / "llmfao.json"
GENERATED_WITH = ".venv/bin/python scripts/golden/make_goldens.py"

# --- Settings --------------------------------------------------------------------------------
SCALE, BASE, INIT = 400.0, 10.0, 1000.0  # Elo scale used everywhere (arena_rank defaults)
ELO_PER_NAT = SCALE / math.log(BASE)  # 400 / ln 10
SIGNIFICANCE = 0.05  # 95% intervals
N_BOOT = 1000
BOOT_SEED = 42
BOOT_JOBS = 2  # the development machine has 2 cores

# arena_rank's L-BFGS stops when |grad|_inf < gtol OR the relative loss change < ftol.
# With ftol=1e-16 it stops as soon as the loss stops changing in float64 (relative change
# exactly 0), which on this data happens at |grad|_inf ~3e-10 (~3e-6 Elo from the optimum).
# ftol=0.0 disables that test (rel_change >= 0 always holds), so only gtol (or max_iter)
# ends the run; on LLMFAO it then reaches gtol in a few dozen iterations.
BT_FIT = dict(max_iter=100_000, gtol=1e-13, ftol=0.0)
GRAD_LIMIT = 1e-10  # required |grad|_inf of arena_rank's (mean) loss at the point estimate
# Bootstrap refits use the brief's ftol=1e-16: it still stops a stalled refit (instead of
# running to max_iter) and its ~1e-6 Elo residual is far below bootstrap noise.
BT_BOOT = dict(max_iter=100_000, gtol=1e-13, ftol=1e-16)
EVALICA_BT = dict(tolerance=1e-14, limit=1_000_000)
EVALICA_ELO = dict(k=4.0, initial=INIT, base=BASE, scale=SCALE)

PEERS = ["arena-rank", "jax", "jaxlib", "evalica", "choix", "openskill",
         "pandas", "numpy", "scipy", "optax", "jaxtyping"]


# --- Helpers ---------------------------------------------------------------------------------
def by_model(models, values) -> dict[str, float]:
    """{model: float} with plain Python floats, so json.dump keeps full (round-trip) precision."""
    return {m: float(v) for m, v in zip(models, np.asarray(values, dtype=np.float64))}


def intervals(models, lower, upper) -> tuple[dict[str, list[float]], float]:
    """({model: [lower, upper]}, mean over models of upper - lower)."""
    lower = np.asarray(lower, dtype=np.float64)
    upper = np.asarray(upper, dtype=np.float64)
    iv = {m: [float(lo), float(hi)] for m, lo, hi in zip(models, lower, upper)}
    return iv, float(np.mean(upper - lower))


def strengths_to_elo(p: np.ndarray) -> np.ndarray:
    """BT strengths p_i -> Elo: 1000 + 400/ln10 * (ln p_i - mean_j ln p_j). Works row-wise on 2-D input."""
    lp = np.log(np.asarray(p, dtype=np.float64))
    return INIT + ELO_PER_NAT * (lp - lp.mean(axis=-1, keepdims=True))


def timed(fn, *args, **kwargs):
    """(result, seconds); jax outputs are blocked on so asynchronous dispatch is not mis-timed."""
    t0 = time.perf_counter()
    out = fn(*args, **kwargs)
    jax.block_until_ready(out)
    return out, time.perf_counter() - t0


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def load_battles() -> tuple[pd.DataFrame, pd.DataFrame]:
    """(raw CSV, LMArena-style battles with model_a/model_b/winner) in file order."""
    raw = pd.read_csv(CROWD_CSV)
    assert set(raw["winner"]) <= {"left", "right", "tie"}, set(raw["winner"])
    battles = pd.DataFrame({
        "model_a": raw["left"],
        "model_b": raw["right"],
        "winner": raw["winner"].map({"left": "model_a", "right": "model_b", "tie": "tie"}),
    })
    return raw, battles


# --- 1. arena_rank Bradley-Terry + sandwich ------------------------------------------------------
def arena_rank_bt(dataset: PairDataset, n_battles: int, timings: dict) -> dict:
    models = dataset.competitors

    # Fit a fresh model; verbose makes arena_rank print its iteration count, which we capture.
    model = BradleyTerry(dataset.n_competitors, scale=SCALE, base=BASE, init_rating=INIT,
                         verbose=True, **BT_FIT)
    log = io.StringIO()
    with contextlib.redirect_stdout(log):
        _, timings["arena_rank_bt_fit_s"] = timed(lambda: model.fit(dataset).params)
    print(log.getvalue().rstrip())
    m = re.search(r"finished in (\d+) iterations", log.getvalue())
    iterations = int(m.group(1)) if m else None

    # arena_rank's lbfgs_minimize jits a fresh closure on every call, so every fit pays tracing and
    # XLA compilation; repeat on fresh models to get a less noisy figure too.
    repeats = []
    for _ in range(2):
        again = BradleyTerry(dataset.n_competitors, scale=SCALE, base=BASE, init_rating=INIT, **BT_FIT)
        _, dt = timed(lambda: again.fit(dataset).params)
        repeats.append(dt)
    timings["arena_rank_bt_fit_min_of_3_s"] = min([timings["arena_rank_bt_fit_s"], *repeats])

    # Convergence check with arena_rank's own loss (the mean negative log-likelihood).
    grad = jax.grad(BradleyTerry.loss_function)(model.params, dataset.as_dict())["ratings"]
    grad_inf = float(jnp.max(jnp.abs(grad)))
    print(f"arena_rank BT: {iterations} L-BFGS iterations, final |grad|_inf = {grad_inf:.3e} "
          f"(mean loss; x{n_battles} for the summed log-likelihood)")
    assert grad_inf < GRAD_LIMIT, f"arena_rank L-BFGS did not converge: |grad|_inf = {grad_inf:.3e}"

    # Sandwich CIs on the already fitted model (no refit). The first call also jit-compiles the
    # Hessian/covariance assembly; the second call is the steady-state cost.
    res, timings["arena_rank_sandwich_first_s"] = timed(
        model.compute_ratings_and_cis, dataset, significance_level=SIGNIFICANCE, ci_method="sandwich")
    _, timings["arena_rank_sandwich_warm_s"] = timed(
        model.compute_ratings_and_cis, dataset, significance_level=SIGNIFICANCE, ci_method="sandwich")
    assert list(res["competitors"]) == list(models)

    return {
        "ratings": by_model(models, res["ratings"]),
        "rating_lower": by_model(models, res["rating_lower"]),
        "rating_upper": by_model(models, res["rating_upper"]),
        "variances": by_model(models, res["variances"]),
        "hessian_reg": float(model.hessian_reg),
        # For unweighted data arena_rank multiplies hessian_reg by the number of battles.
        "effective_hessian_reg": float(model.hessian_reg) * n_battles,
        "significance_level": SIGNIFICANCE,
        "ci_method": "sandwich",
        "scale": SCALE, "base": BASE, "init_rating": INIT,
        "reweighted": False,
        "fit": {**BT_FIT, "iterations": iterations,
                "grad_inf_norm_mean_loss": grad_inf,
                "grad_inf_norm_sum_loglik": grad_inf * n_battles},
    }


# --- 2./3. evalica Bradley-Terry and Elo -----------------------------------------------------------
def evalica_bt(xs, ys, winners, models, timings: dict) -> tuple[dict, pd.Series]:
    res, timings["evalica_bt_s"] = timed(evalica.bradley_terry, xs=xs, ys=ys, winners=winners, **EVALICA_BT)
    p = res.scores.reindex(models).to_numpy(dtype=np.float64)
    return {
        "ratings": by_model(models, strengths_to_elo(p)),
        "strengths": by_model(models, p),  # evalica's raw scores (unnormalised strengths)
        "iterations": int(res.iterations),
        **EVALICA_BT,
        "solver": res.solver,
        "transform": "1000 + 400/ln(10) * (ln p_i - mean_j ln p_j)",
    }, res.scores


def evalica_elo(xs, ys, winners, models, timings: dict) -> dict:
    res, timings["evalica_elo_s"] = timed(evalica.elo, xs=xs, ys=ys, winners=winners, **EVALICA_ELO)
    return {"ratings": by_model(models, res.scores.reindex(models)), **EVALICA_ELO, "solver": res.solver}


# --- 4. Bootstrap ---------------------------------------------------------------------------------
def evalica_bootstrap(xs, ys, winners, models, timings: dict) -> dict:
    """evalica.bootstrap (scipy.stats.bootstrap over battles) with the BT method, percentile CIs."""
    res, timings["evalica_bootstrap_s"] = timed(
        evalica.bootstrap, evalica.bradley_terry, xs=xs, ys=ys, winners=winners,
        n_resamples=N_BOOT, confidence_level=1 - SIGNIFICANCE, bootstrap_method="percentile",
        random_state=BOOT_SEED, **EVALICA_BT)
    # evalica's intervals are on its strength scale. Mapping each resample to Elo involves the mean
    # log-strength of that resample, so the Elo intervals are taken from the bootstrap distribution
    # (percentiles, numpy's default linear interpolation, as scipy's percentile method uses).
    dist = strengths_to_elo(res.distribution[models].to_numpy(dtype=np.float64))
    lo, hi = np.percentile(dist, [100 * SIGNIFICANCE / 2, 100 * (1 - SIGNIFICANCE / 2)], axis=0)
    iv, width = intervals(models, lo, hi)
    iv_p, _ = intervals(models, res.low.reindex(models), res.high.reindex(models))
    return {
        "intervals": iv, "mean_width": width,
        "intervals_strength": iv_p,  # evalica's own low/high on the strength scale
        "n_resamples": N_BOOT, "random_state": BOOT_SEED, "bootstrap_method": "percentile",
        "resampling": f"scipy.stats.bootstrap, paired resampling of the {len(xs)} battles",
        **EVALICA_BT,
    }


def arena_rank_bootstrap(dataset: PairDataset, timings: dict) -> dict:
    """arena_rank's bootstrap (multinomial resampling of battle counts, refits in a process pool)."""
    models = dataset.competitors
    model = BradleyTerry(dataset.n_competitors, scale=SCALE, base=BASE, init_rating=INIT, **BT_BOOT)
    model.fit(dataset)  # point fit outside the timed region: time only the bootstrap itself
    res, timings["arena_rank_bootstrap_s"] = timed(
        model.compute_ratings_and_cis, dataset, significance_level=SIGNIFICANCE, ci_method="bootstrap",
        num_bootstrap=N_BOOT, seed=BOOT_SEED, n_jobs=BOOT_JOBS)
    iv, width = intervals(models, res["rating_lower"], res["rating_upper"])
    return {
        "intervals": iv, "mean_width": width,
        "variances": by_model(models, res["variances"]),
        "num_bootstrap": N_BOOT, "seed": BOOT_SEED, "n_jobs": BOOT_JOBS,
        "quantiles": "jnp.quantile (linear) at 0.025 / 0.975",
        "resampling": "jax.random.multinomial over unique (pair, outcome) rows, key PRNGKey(seed)",
        "fit": BT_BOOT,
    }


# --- 5. choix pairwise fixtures --------------------------------------------------------------------
def choix_cases() -> tuple[list, list]:
    cases, computed = [], []
    for path in sorted(glob.glob(str(CHOIX_FIXTURES / "testcase-pairwise-*.json"))):
        case = json.loads(Path(path).read_text())
        name = Path(path).stem
        cases.append({"name": name, "desc": case.get("desc"), "n_items": case["n_items"],
                      "data": case["data"], "ml_est": case["ml_est"]})
        est = choix.ilsr_pairwise(case["n_items"], case["data"], alpha=0.0, tol=1e-12, max_iter=10_000)
        diff = float(np.max(np.abs(np.asarray(est) - np.asarray(case["ml_est"]))))
        print(f"choix {name}: ilsr_pairwise vs ml_est max |diff| = {diff:.2e}")
        assert diff < 1e-6, (name, est, case["ml_est"])
        computed.append({"name": name, "method": "ilsr_pairwise(alpha=0, tol=1e-12)",
                         "params": [float(x) for x in est], "max_abs_diff_vs_ml_est": diff})
    assert cases, f"no choix fixtures under {CHOIX_FIXTURES}"
    return cases, computed


# --- Main ------------------------------------------------------------------------------------------
def main() -> None:
    timings: dict[str, float] = {}
    loadavg_start = os.getloadavg()

    raw, battles = load_battles()
    xs, ys = raw["left"].tolist(), raw["right"].tolist()
    winners = raw["winner"].map(
        {"left": evalica.Winner.X, "right": evalica.Winner.Y, "tie": evalica.Winner.Draw}).tolist()

    dataset = PairDataset.from_pandas(battles)  # reweighted=False (default)
    models = list(dataset.competitors)  # sorted model names; the order of every {model: ...} dict
    n_battles = len(battles)
    assert float(jnp.sum(dataset.counts)) == n_battles

    golden: dict = {
        "source": str(CROWD_CSV),
        "source_sha256": sha256(CROWD_CSV),
        "n_battles": n_battles,
        "n_models": len(models),
        "n_ties": int((battles["winner"] == "tie").sum()),
        "conversion": "model_a=left, model_b=right; winner left->model_a, right->model_b, tie->tie; file order",
        "versions": {"python": platform.python_version(), **{p: version(p) for p in PEERS}},
        "generated_with": GENERATED_WITH,
    }

    golden["arena_rank_bt"] = arena_rank_bt(dataset, n_battles, timings)
    golden["evalica_bt"], evalica_scores = evalica_bt(xs, ys, winners, models, timings)
    golden["evalica_elo"] = evalica_elo(xs, ys, winners, models, timings)

    # Agreement between the two BT fits (same likelihood: ties count as half a win each way).
    a = np.array([golden["arena_rank_bt"]["ratings"][m] for m in models])
    e = np.array([golden["evalica_bt"]["ratings"][m] for m in models])
    diff = float(np.max(np.abs(a - e)))
    diff_centered = float(np.max(np.abs((a - a.mean()) - (e - e.mean()))))
    print(f"arena_rank vs evalica BT: max |diff| = {diff:.3e} Elo (centred: {diff_centered:.3e})")

    # evalica's own shipped goldens for this very file (BT normalised to sum 1; Elo k=4).
    shipped = pd.read_csv(EVALICA_GOLDEN_CSV)
    ship_bt = shipped[shipped["algorithm"] == "bradley_terry"].set_index("item")["score"]
    ship_elo = shipped[shipped["algorithm"] == "elo"].set_index("item")["score"]
    norm_bt = (evalica_scores / evalica_scores.sum()).reindex(ship_bt.index)
    elo_now = pd.Series(golden["evalica_elo"]["ratings"]).reindex(ship_elo.index)
    golden["cross_checks"] = {
        "arena_rank_vs_evalica_bt_max_abs_diff_elo": diff,
        "arena_rank_vs_evalica_bt_max_abs_diff_elo_centered": diff_centered,
        "arena_rank_vs_evalica_bt_agree_1e-6": diff < 1e-6,
        "arena_rank_mean_rating": float(a.mean()),
        "evalica_bt_vs_shipped_golden_max_rel_diff": float(((norm_bt - ship_bt).abs() / ship_bt).max()),
        "evalica_elo_vs_shipped_golden_max_abs_diff": float((elo_now - ship_elo).abs().max()),
        "shipped_golden": str(EVALICA_GOLDEN_CSV),
    }

    golden["bootstrap"] = {
        "evalica": evalica_bootstrap(xs, ys, winners, models, timings),
        "arena_rank": arena_rank_bootstrap(dataset, timings),
    }
    for peer, b in golden["bootstrap"].items():
        print(f"bootstrap {peer}: mean 95% width = {b['mean_width']:.3f} Elo")

    golden["choix_pairwise"], golden["choix_computed"] = choix_cases()

    golden["timings"] = timings
    golden["timing_context"] = {
        "cpu_count": os.cpu_count(),
        "loadavg_at_start": list(loadavg_start),
        "loadavg_at_end": list(os.getloadavg()),
        "note": ("perf_counter seconds of single calls, jax results blocked on. arena_rank fits include "
                 "jax tracing + XLA compilation, which it repeats on every fit; *_first_s includes one-off "
                 "jit compilation, *_warm_s is a second call. Machine shared with other work."),
    }

    OUT.parent.mkdir(parents=True, exist_ok=True)
    tmp = OUT.with_suffix(".json.tmp")
    with open(tmp, "w") as f:
        json.dump(golden, f, indent=1, allow_nan=False)  # Python floats: shortest round-trip repr
        f.write("\n")
    tmp.replace(OUT)
    print(f"wrote {OUT.relative_to(REPO)} ({OUT.stat().st_size} bytes)")
    print(json.dumps(timings, indent=1))


if __name__ == "__main__":
    # arena_rank's bootstrap uses a multiprocessing Pool; under the default fork start method the
    # children inherit jax's threads and deadlock, so use spawn (children re-import this module,
    # hence all work lives in main()).
    multiprocessing.set_start_method("spawn")
    sys.exit(main())
