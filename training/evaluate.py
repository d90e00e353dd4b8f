#!/usr/bin/env python3
"""Quick PyTorch check of a trained model on a fixed split of the corpus.

    python training/evaluate.py ~/.cache/npsep/training/default/best_state_dict.pt --split test
    python training/evaluate.py ~/.cache/npsep/training/default/ckpt.pt --split test_de

Accepts a plain state_dict (``best_state_dict.pt``; the model configuration is
read from ``config.json`` / ``best.json`` next to it, or ``--config``) or a
training checkpoint (``ckpt.pt``).  Prints mean / worst / median SI-SDRi in dB
(best permutation, per-mixture mean over both sources).  The official figure
is measured with ``npsep eval``; this is a quick in-torch cross-check.
"""

import argparse
import json
import os
import sys

import numpy as np
import torch

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import data  # noqa: E402
import train  # noqa: E402


def _model_config(path, config):
    if config:
        return train.load_config(config)["model"]
    d = os.path.dirname(os.path.abspath(path))
    for name in ("best.json", "config.json"):
        p = os.path.join(d, name)
        if os.path.exists(p):
            with open(p) as f:
                return json.load(f)["model"]
    return train.load_config(os.path.join(HERE, "default.json"))["model"]


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("checkpoint")
    ap.add_argument("--split", default="test", help="val, test, test_de or test_es")
    ap.add_argument("--data", default=None)
    ap.add_argument("--config", default=None, help="training config json (model section used)")
    ap.add_argument("--limit", type=int, default=0, help="only the first N mixtures")
    ap.add_argument("--threads", type=int, default=1)
    a = ap.parse_args(argv)
    torch.set_num_threads(a.threads)
    data_dir = a.data or os.environ.get("NPSEP_DATA_DIR") or os.path.join(
        os.path.expanduser("~"), ".cache", "npsep", "corpus")
    ck = torch.load(a.checkpoint, map_location="cpu", weights_only=False)
    if isinstance(ck, dict) and "model" in ck and "optimizer" in ck:
        hp, sd = ck["config"]["model"], ck["model"]
    else:
        hp, sd = _model_config(a.checkpoint, a.config), ck
    model = train.build_model(hp)
    model.load_state_dict(sd)
    items = data.load_fixed_split(os.path.join(data_dir, a.split), a.limit or None)
    model.eval()
    imps = []
    with torch.no_grad():
        for _, mix, src in items:
            m = torch.from_numpy(mix)[None, None]
            s = torch.from_numpy(src)[None]
            est = train.separate(model, m)
            base = train.si_sdr(m.expand_as(s), s).mean(-1)
            imps.append(float(train.pit_si_sdr(est, s) - base))
    imps = np.array(imps)
    print("%s: %d mixtures  SI-SDRi mean %.2f dB  median %.2f dB  worst %.2f dB" % (
        a.split, len(imps), imps.mean(), np.median(imps), imps.min()))


if __name__ == "__main__":
    main()
