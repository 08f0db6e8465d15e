"""Language models for the ASR decoder, compared on the dev set: perplexity, load time and memory, and WER of one
bundle with each LM over an alpha / beta grid (the network runs once; only the beam search is repeated).

Tune on the dev speakers only (``fotaq:bob, fotaq:sparky, fotaq:tam``); never on the eval sources.

Usage (one thread)::

    OMP_NUM_THREADS=1 python benchmarks/asr_lm.py --manifest data/asr/real_dev2 --model asr \\
        --lm old=speechdl/pretrained/asr/lm.arpa.gz --lm new=data/asr/lm/lm4_p0011.arpa.gz \\
        --alpha 0.1,0.2,0.3,0.5 --beta 0,1,2 --beam 16 --out data/asr/lm/tune.json
"""

from __future__ import annotations

import argparse
import json
import resource
import time

import torch


def floats(text: str) -> list[float]:
    return [float(x) for x in text.split(",")]


def main() -> None:
    from speechdl.metrics.wer import report
    from speechdl.tasks.asr.decode import ctc_greedy, prefix_beam_search
    from speechdl.tasks.asr.evaluate import load_eval_set
    from speechdl.tasks.asr.infer import load_asr
    from speechdl.tasks.asr.lm import ArpaLM, perplexity

    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--manifest", required=True)
    p.add_argument("--model", default="asr")
    p.add_argument("--lm", action="append", default=[], metavar="NAME=ARPA")
    p.add_argument("--alpha", type=floats, default=[0.2])
    p.add_argument("--beta", type=floats, default=[1.0])
    p.add_argument("--beam", type=int, default=16)
    p.add_argument("--max-utts", type=int, default=None)
    p.add_argument("--out", default=None)
    args = p.parse_args()
    torch.set_num_threads(1)

    from speechdl.api import read_meta

    path, _ = read_meta(args.model)
    asr = load_asr(path)
    data = load_eval_set(args.manifest, asr.sample_rate, args.max_utts)
    labels, blank = asr.tokenizer.labels, asr.tokenizer.blank_id
    t = time.time()
    with torch.no_grad():
        logps = []
        for w in data.waves:
            x, n = asr._features([w])
            lp, ln = asr.model(x, n)
            logps.append(lp[0, : int(ln[0])].float().numpy())
    print(f"network: {len(logps)} utterances, {data.seconds:.0f} s of audio, {time.time() - t:.1f} s", flush=True)
    rows = []
    greedy = report(data.refs, [asr.tokenizer.decode(ctc_greedy(torch.from_numpy(lp)[None], blank=blank)[0])
                                for lp in logps], data.ids, worst=0)
    rows.append({"lm": "none", "beam": 1, "wer": greedy["wer"], "cer": greedy["cer"]})
    print(json.dumps(rows[-1]), flush=True)
    for spec in args.lm:
        name, arpa = spec.split("=", 1)
        rss0, t = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, time.time()
        lm = ArpaLM(arpa)
        load = {"lm": name, "file": arpa, "order": lm.order, "ngrams": [len(g) for g in lm.ngrams[1:]],
                "load_s": round(time.time() - t, 1),
                "peak_rss_gain_mb": round((resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - rss0) / 1024),
                **perplexity(lm, [r.split() for r in data.refs if r])}
        rows.append(load)
        print(json.dumps(load), flush=True)
        for a in args.alpha:
            for b in args.beta:
                t = time.time()
                hyps = [asr.tokenizer.decode(prefix_beam_search(lp, labels, args.beam, lm, a, b, blank=blank))
                        for lp in logps]
                rep = report(data.refs, hyps, data.ids, worst=0)
                rows.append({"lm": name, "beam": args.beam, "alpha": a, "beta": b, "wer": round(rep["wer"], 4),
                             "cer": round(rep["cer"], 4), "x_real_time": round(data.seconds / (time.time() - t), 1)})
                print(json.dumps(rows[-1]), flush=True)
        del lm
    if args.out:
        with open(args.out, "w") as f:
            json.dump(rows, f, indent=1)


if __name__ == "__main__":
    main()
