#!/usr/bin/env python3
"""Write tests/golden/openskill-llmfao.json: openskill.py's Weng-Lin ratings of the LLMFAO crowd votes.

Run from the repository root with the pinned peers installed (scripts/golden/requirements.txt, openskill==6.2.0):

    .venv/bin/python scripts/golden/make_openskill.py

Input: ../shared/data/llmfao/crowd-comparisons.csv (columns id,prompt,model_x,model_y,worker,winner,left,right;
winner in {left,right,tie}). Every row, in file order, is one 1-vs-1 match of `left` against `right` with
ranks [1, 2] (left won), [2, 1] (right won) or [1, 1] (tie), every model starting at openskill's default rating
(mu 25, sigma 25/3) and every model option at openskill's default. This is what arbiter's
`rank::wenglin::rate_battles` does with the battles that tests/common/mod.rs parses from the same file.

Output: for each of openskill's five Weng-Lin models (keyed as arbiter's WengLinModel serialises:
"plackett-luce", "bradley-terry-full", ...), each model name's final mu, sigma and ordinal (mu - 3 sigma), plus
the number of matches and the wall-clock seconds of the Python run. The script only calls openskill; none of its
code is copied into this project.
"""

from __future__ import annotations

import csv
import json
import time
from importlib.metadata import version
from pathlib import Path

from openskill.models import (
    BradleyTerryFull,
    BradleyTerryPart,
    PlackettLuce,
    ThurstoneMostellerFull,
    ThurstoneMostellerPart,
)

REPO = Path(__file__).resolve().parents[2]
CROWD_CSV = REPO.parent / "shared" / "data" / "llmfao" / "crowd-comparisons.csv"
OUT = REPO / "tests" / "golden" / "openskill-llmfao.json"

MODELS = {
    "plackett-luce": PlackettLuce,
    "bradley-terry-full": BradleyTerryFull,
    "bradley-terry-part": BradleyTerryPart,
    "thurstone-mosteller-full": ThurstoneMostellerFull,
    "thurstone-mosteller-part": ThurstoneMostellerPart,
}
RANKS = {"left": [1, 2], "right": [2, 1], "tie": [1, 1]}


def votes() -> list[tuple[str, str, str]]:
    with open(CROWD_CSV, newline="") as f:
        return [(row["left"], row["right"], row["winner"]) for row in csv.DictReader(f)]


def run(model_class, battles):
    model = model_class()
    ratings = {}
    start = time.perf_counter()
    for left, right, winner in battles:
        a = ratings.setdefault(left, model.rating())
        b = ratings.setdefault(right, model.rating())
        [[a], [b]] = model.rate([[a], [b]], ranks=RANKS[winner])
        ratings[left], ratings[right] = a, b
    seconds = time.perf_counter() - start
    return {
        "ratings": {
            name: {"mu": r.mu, "sigma": r.sigma, "ordinal": r.ordinal()} for name, r in ratings.items()
        },
        "seconds": seconds,
    }


def main() -> None:
    battles = votes()
    data = {
        "source": "scripts/golden/make_openskill.py",
        "openskill": version("openskill"),
        "input": "llmfao/crowd-comparisons.csv, file order, left vs right, ties as ranks [1, 1]",
        "matches": len(battles),
        "models": {key: run(cls, battles) for key, cls in MODELS.items()},
    }
    OUT.write_text(json.dumps(data, indent=1) + "\n")
    pl = data["models"]["plackett-luce"]["ratings"]
    top = sorted(pl.items(), key=lambda kv: -kv[1]["ordinal"])[:5]
    for name, r in top:
        print(f"{name:40s} {r['ordinal']:.6f}")


if __name__ == "__main__":
    main()
