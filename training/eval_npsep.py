"""The official figure: SI-SDRi of a model on a corpus split, measured with the npsep CLI.

Runs ``npsep separate`` on every ``<split>/<id>/mix.wav`` (one process, whole files),
then ``npsep eval --json`` on each mixture's two outputs against ``s1.wav``/``s2.wav``,
and prints the number of mixtures, the mean, the worst and the best SI-SDRi (the mean
over the two sources of each mixture). No PyTorch is involved.

    python training/eval_npsep.py npsep/data/default_model.npz --split test --split test_de

The splits of the acceptance figures: ``test_real`` and ``test_games`` (held-out real
speakers), ``test``, ``test_de``, ``test_es`` (espeak-ng), ``test_synth`` (held-out
synthesiser voices) and ``test_tel`` (espeak test mixtures in the telephone band).
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

DEFAULT_DATA = Path(os.environ.get("NPSEP_DATA_DIR", Path.home() / ".cache/npsep/corpus"))


def npsep(*args):
    return subprocess.run([sys.executable, "-m", "npsep.cli", *map(str, args)], check=True,
                          capture_output=True, text=True).stdout


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("model", help="npsep weights file (.npz)")
    ap.add_argument("--split", action="append", default=None, help="split name (repeatable); default: test")
    ap.add_argument("--data", type=Path, default=DEFAULT_DATA)
    ap.add_argument("--limit", type=int, default=None, help="only the first N mixtures of each split")
    ap.add_argument("--json", type=Path, help="also write the results here")
    args = ap.parse_args()
    results = {}
    with tempfile.TemporaryDirectory() as tmp:
        for split in args.split or ["test"]:
            scores = run_split(args.model, args.data / split, Path(tmp), args.limit)
            values = [v for _, v in scores]
            results[split] = {"mixtures": len(values), "mean_si_sdri": sum(values) / len(values),
                              "worst_si_sdri": min(values), "best_si_sdri": max(values),
                              "worst_mixture": min(scores, key=lambda s: s[1])[0],
                              "voices": split_voices(args.data / split, [m for m, _ in scores])}
            r = results[split]
            print(f"{split}: {r['mixtures']} mixtures of {len(r['voices'])} voices, "
                  f"SI-SDRi mean {r['mean_si_sdri']:.2f} dB, "
                  f"worst {r['worst_si_sdri']:.2f} dB ({r['worst_mixture']}), best {r['best_si_sdri']:.2f} dB")
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))


def split_voices(split_dir, ids):
    """The distinct voices (speaker, or espeak voice+variant) of the scored mixtures."""
    manifest = json.loads((split_dir / "manifest.json").read_text())["mixtures"]
    voices = set()
    for m in manifest:
        if m["id"] in ids:
            for v in (m.get("s1_voice"), m.get("s2_voice")):
                if isinstance(v, dict):
                    voices.add(v["voice"])
                elif v:
                    voices.add("%s+%s" % (v[0], v[1]))
    return sorted(voices)


def run_split(model, split_dir, workdir, limit):
    """Separate each mixture into its own folder, then score it with ``npsep eval``."""
    mixtures = sorted(p for p in split_dir.iterdir() if (p / "mix.wav").is_file())[:limit]
    out = workdir / split_dir.name
    # one npsep process for the whole split: given a folder, npsep keeps the sub-folders,
    # so <split>/<id>/mix.wav becomes <out>/<id>/mix_s1.wav, mix_s2.wav
    link = workdir / f"{split_dir.name}-inputs"
    link.mkdir()
    for m in mixtures:
        (link / m.name).mkdir()
        os.symlink(m / "mix.wav", link / m.name / "mix.wav")
    npsep("separate", link, "-o", out, "--model", model, "--chunk-seconds", 0, "--quiet", "--overwrite")

    def score(m):
        est = [out / m.name / f"mix_s{i}.wav" for i in (1, 2)]
        r = json.loads(npsep("eval", *est, "--ref", m / "s1.wav", m / "s2.wav", "--mix", m / "mix.wav", "--json"))
        return m.name, r["mean_si_sdri"]

    with ThreadPoolExecutor(2) as pool:
        return list(pool.map(score, mixtures))


if __name__ == "__main__":
    main()
