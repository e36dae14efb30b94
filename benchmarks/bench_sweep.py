"""Benchmark: the 828-model sweep of Appendix D, batched across models, against per-model and per-point loops.

Prints, on the same models and the authors' grid arange(-6, 6, 0.5)^2 (576 points):

1. rho(A*(x)) for a sample of models computed the way the authors' scripts do it (one A* and one eigenvalue
   problem per point, `model_sweep.per_point_reference`), extrapolated to all 828 models, against the batched
   engine on all 828 models (`model_sweep.sweep(..., classify=False)`): the ratio;
2. the batched engine model by model (a loop over the 828 models, each batched over its grid): the ratio to
   batching across models too;
3. the whole sweep with attractor classification (orbits, Newton, Lyapunov exponents).

Run with `make benchmarks` or `.venv/bin/python benchmarks/bench_sweep.py [--device cuda] [--sample 6]`.
The results agree (checked on the sample), so the ratios are the price of not batching.
"""

import argparse
import time

import torch

from linear_lens import model_sweep as ms


def _sync(device):
    if torch.device(device).type == "cuda":
        torch.cuda.synchronize()


def main(device: str = "cpu", sample: int = 6, classify: bool = True) -> None:
    configs = ms.configurations()
    grid = ms.authors_grid()
    print(f"{len(configs)} models, grid of {grid.shape[0]} points, device {device} "
          f"(the sweep runs on one CPU thread; the machine has {torch.get_num_threads()})")

    ms.sweep(configs[:12], classify=False, show_progress=False, device=device)  # warm-up
    times = []
    for _ in range(3):  # the best of three: the machine may be shared
        _sync(device)
        start = time.perf_counter()
        batched = ms.sweep(configs, classify=False, show_progress=False, device=device)
        _sync(device)
        times.append(time.perf_counter() - start)
    t_batched = min(times)
    print(f"  spectra of all models, batched across models and points: {t_batched:8.3f} s (best of 3)")

    step = max(1, len(configs) // sample)
    picked = configs[::step][:sample]
    start = time.perf_counter()
    torch.set_num_threads(1)  # the reference loop too: its tensors are tiny
    for c in picked:
        W, B = ms.draw_network(c.weights, c.depth, 2, torch.Generator().manual_seed(c.seed))
        rho = ms.per_point_reference(list(W), list(B) if c.bias else None, c.activation, grid)
        row = batched.find(c)
        assert abs(float(rho.max()) - row["rho_max"]) <= 1e-10 * max(1.0, row["rho_max"]), "results differ"
    t_point = (time.perf_counter() - start) / len(picked) * len(configs)
    print(f"  per-point reference (one A* and one eig per point), {len(picked)} models extrapolated: "
          f"{t_point:8.1f} s")
    print(f"  ratio (per-point / batched): {t_point / t_batched:.0f}x")

    start = time.perf_counter()
    for c in configs:
        ms.sweep([c], classify=False, show_progress=False, device=device)
    _sync(device)
    t_model = time.perf_counter() - start
    print(f"  the batched engine model by model: {t_model:8.2f} s; ratio (per-model / batched): "
          f"{t_model / t_batched:.1f}x")

    if classify:
        start = time.perf_counter()
        full = ms.sweep(configs, show_progress=False, device=device)
        _sync(device)
        t_full = time.perf_counter() - start
        print(f"  the whole sweep with attractor classification: {t_full:8.2f} s "
              f"(stages: {', '.join(f'{k} {v:.2f} s' for k, v in full.timings.items())})")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cpu", help="torch device, e.g. cuda")
    parser.add_argument("--sample", type=int, default=6, help="models timed with the per-point reference")
    parser.add_argument("--no-classify", action="store_true", help="skip the sweep with attractors")
    args = parser.parse_args()
    main(device=args.device, sample=args.sample, classify=not args.no_classify)
