"""Score a checkpoint (the lab's or train.py's) on an exported split: `python3 python/evaluate.py --shards DIR --checkpoint FILE`.

Prints AUC, LogLoss and the target count; --out writes them with every target's logit, in the split's order. Several
--shards score each folder with its own DIR/model.safetensors and write DIR/SPLIT-scores.json (the lab's cross-check
runs them in one process).
"""

import argparse
import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from dti_lab.data import load_shards  # noqa: E402
from dti_lab.model import load_lab_checkpoint  # noqa: E402
from dti_lab.scoring import evaluate  # noqa: E402


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--shards", required=True, action="append", help="an exported folder; repeat to score several")
    p.add_argument("--checkpoint", default=None, help="default: SHARDS/model.safetensors")
    p.add_argument("--split", choices=("validSample", "valid", "test"), default="test")
    p.add_argument("--attention", choices=("dense", "flex"), default="dense")
    p.add_argument("--out", default=None, help="with one --shards: where the scores go")
    args = p.parse_args(argv)
    several = len(args.shards) > 1
    if several and (args.checkpoint or args.out):
        p.error("with several --shards, each folder's model.safetensors is scored into its own SPLIT-scores.json")
    for directory in args.shards:
        shards = load_shards(directory, splits=(args.split,))
        model, _, _ = load_lab_checkpoint(args.checkpoint or os.path.join(directory, "model.safetensors"))
        scored = evaluate(model, shards.splits[args.split], shards.n, shards.level, args.attention)
        print(f"{directory} {args.split}: AUC {scored['auc']:.6f} LogLoss {scored['logLoss']:.6f} on {scored['count']} targets")
        out = os.path.join(directory, f"{args.split}-scores.json") if several else args.out
        if out:
            with open(out, "w", encoding="utf-8") as f:
                json.dump(scored, f)


if __name__ == "__main__":
    main()
