"""Golden file for Dawid-Skene on LLMFAO crowd votes: crowd-kit 1.4.1's DawidSkene run to convergence.

Items are (id, unordered pair) in order of first appearance, labels aligned to the item's first-seen sides
(a = first-seen left won, b = the other, tie), as arbiter's `dawid_skene::from_battles`. crowd-kit does not smooth
(it clips at 1e-10), so the test runs arbiter with a tiny pseudo-count. Writes tests/golden/crowdkit-dawid-skene.json.
Usage: .venv/bin/python scripts/golden/make_dawid_skene.py"""
import json
from pathlib import Path

import pandas as pd
from crowdkit.aggregation import DawidSkene, MajorityVote

ROOT = Path(__file__).resolve().parents[2]
raw = pd.read_csv(ROOT / "../shared/data/llmfao/crowd-comparisons.csv")
first, order, rows = {}, [], []
for i, l, r, w, worker in zip(raw["id"], raw["left"], raw["right"], raw["winner"], raw["worker"]):
    key = f"{i}|{min(l, r)}|{max(l, r)}"
    if key not in first:
        first[key] = l
        order.append(key)
    label = "tie" if w == "tie" else ("a" if (w == "left") == (first[key] == l) else "b")
    rows.append((key, str(worker), label))
data = pd.DataFrame(rows, columns=["task", "worker", "label"])
# crowd-kit's fit() stops on its ELBO after 18 steps here, far from the fixed point; the golden runs crowd-kit's own
# E and M steps, from its own start, until the posteriors stop moving (the default run is kept for the record).
default = DawidSkene()
default.fit(data)
probas = MajorityVote().fit_predict_proba(data)
priors = probas.mean()
errors = DawidSkene._m_step(data, probas)
steps = 0
while steps < 100000:
    steps += 1
    new = DawidSkene._e_step(data, priors, errors)
    priors = new.mean()
    errors = DawidSkene._m_step(data, new)
    moved = float((new - probas).abs().max().max())
    probas = new
    if moved < 1e-13:
        break
workers = list(dict.fromkeys(data["worker"]))
out = {
    "generator": "crowd-kit 1.4.1 DawidSkene E/M steps to convergence on LLMFAO crowd-comparisons.csv",
    "iterations": steps,
    "default_fit_iterations": len(default.loss_history_),
    "default_fit_priors": [float(default.priors_.get(c, 0.0)) for c in ("a", "b", "tie")],
    "priors": [float(priors.get(c, 0.0)) for c in ("a", "b", "tie")],
    "posteriors": [[float(probas.loc[k].get(c, 0.0)) for c in ("a", "b", "tie")] for k in order],
    "workers": workers,
    # P(worker says l | true c): errors_ is indexed by (worker, observed label), columns = true label.
    "confusion": [[[float(errors.loc[(w, l), c]) if (w, l) in errors.index else 0.0 for l in ("a", "b", "tie")]
                   for c in ("a", "b", "tie")] for w in workers],
}
(ROOT / "tests/golden/crowdkit-dawid-skene.json").write_text(json.dumps(out) + "\n")
print(out["iterations"], out["priors"], out["default_fit_iterations"], out["default_fit_priors"])
