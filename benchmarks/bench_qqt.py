"""Benchmark: the exact QQ^T(t) of riccati.qqt against integrating the gradient flow, at 10^4 time points.

Prints, for a (10, 10, 10) network and several time horizons, the wall time of `riccati.qqt` on 10^4 time points
and of `gradient_flow.integrate` (scipy's DOP853 at rtol = atol = 1e-12 and 2.5e-14 (its smallest), and Radau at 1e-12, the same
points as `t_eval`), their ratio, and the largest relative difference between the two (checked to be below 1e-8, so
the ratio compares equal answers; the closed form itself is exact to rounding).
Run with `make benchmarks` or `.venv/bin/python benchmarks/bench_qqt.py [--n 10000] [--dims 10 10 10]`.

The integrator's cost grows with the horizon (its step is bounded by the fastest rate of the flow); the closed form's
does not. The machine is shared while the book is written, so the absolute times vary from run to run.
"""

import argparse
import time

import numpy as np
import torch

from linear_lens import balanced, gradient_flow as gf, riccati as rc, tasks


def timed(fn, repeat=1):
    best, out = float("inf"), None
    for _ in range(repeat):
        start = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - start)
    return best, out


def main(n: int = 10_000, dims=(10, 10, 10), lam: float = 1.0, horizons=(10.0, 1e3, 1e5),
         methods=(("DOP853", 1e-12), ("DOP853", 2.5e-14), ("Radau", 1e-12))) -> None:
    n_in, n_hidden, n_out = dims
    g = torch.Generator().manual_seed(0)
    X, Y = tasks.random_regression_task(n_in, n_out, 3 * max(n_in, n_out), generator=g)
    W1, W2 = balanced.lambda_balanced_init(lam, n_in, n_hidden, n_out, sigma=0.5, generator=g)
    rc.qqt(np.linspace(0, 1, 10), W1, W2, X, Y)                       # warm-up
    print(f"riccati.qqt against gradient_flow.integrate: dims {dims}, lambda = {lam}, {n} time points, "
          f"{torch.get_num_threads()} threads")
    for horizon in horizons:
        t = np.linspace(0.0, horizon, n)
        t_exact, P = timed(lambda: rc.qqt(t, W1, W2, X, Y), repeat=3)
        line = f"  t in [0, {horizon:g}]: qqt {t_exact * 1e3:8.1f} ms"
        print(line)
        for method, tol in methods:
            t_flow, flow = timed(lambda: gf.integrate(W1, W2, X, Y, t, rtol=tol, atol=tol, method=method))
            ref = rc.qqt_from_weights(flow.W1, flow.W2)
            err = float(((P - ref).abs().amax((-1, -2)) / ref.abs().amax((-1, -2))).max())
            assert err < 1e-8, f"qqt and integrate ({method}) differ by {err:.1e}"
            print(f"      integrate {method:6s} rtol {tol:.1e}: {t_flow:8.2f} s, ratio {t_flow / t_exact:8.1f}x, "
                  f"max rel. diff {err:.1e}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=10_000, help="number of time points")
    parser.add_argument("--dims", type=int, nargs=3, default=(10, 10, 10), help="N_i N_h N_o")
    parser.add_argument("--lam", type=float, default=1.0, help="lambda of the initial weights")
    args = parser.parse_args()
    main(n=args.n, dims=tuple(args.dims), lam=args.lam)
