"""Benchmark: Part III's two batched computations against simple loops.

1. `rnn.simulate` on a batch of coupling matrices with many trajectories each (one RK4 loop over time, all
   realisations and trajectories as one tensor) against one call per (matrix, trajectory), as a notebook loop
   would do it. Both integrate the same starts, so their states agree to rounding (checked).
2. The equal-time linear-equivalent covariance, the integral over omega of (I - S J)^-1 D (I - S J)^-H / 2 pi,
   in J's eigenbasis (`linear_equivalence.linear_equivalent_covariance`: one eigendecomposition, then O(N^2) per
   frequency, or no frequencies at all in its closed (Laplace) form) against a dense solve at each quadrature frequency
   (`linear_equivalence.direct_spectrum`, O(N^3) per frequency). The two quadratures agree to 1e-9 relative (checked).

Run with `make benchmarks` or `.venv/bin/python benchmarks/bench_rnn.py [--device cuda] [--n 200]`.
The machine is shared while the book is written, so absolute times vary from run to run; the ratios are the point.
"""

from __future__ import annotations

import argparse
import time

import torch

from linear_lens import dmft, linear_equivalence as le, rnn


def timed(fn, sync, warm_up=True):
    if warm_up:
        fn()
    sync()
    start = time.perf_counter()
    out = fn()
    sync()
    return time.perf_counter() - start, out


def main(n: int = 200, g: float = 2.0, realisations: int = 4, trajectories: int = 8, n_omega: int = 512,
         device: str = "cpu") -> None:
    sync = torch.cuda.synchronize if torch.device(device).type == "cuda" else (lambda: None)
    gen = torch.Generator().manual_seed(0)
    J = rnn.couplings(n, g, batch=(realisations,), generator=gen).to(device)
    x0 = torch.randn(realisations, trajectories, n, generator=gen, dtype=torch.float64).to(device)
    kw = dict(t_burn=5.0, t_record=20.0, dt=0.1, record_every=5)

    def batched():
        return rnn.simulate(J, n_traj=trajectories, x0=x0, **kw)

    def looped():
        return torch.stack([torch.stack([rnn.simulate(J[r], n_traj=1, x0=x0[r, k:k + 1], **kw)[0]
                                         for k in range(trajectories)]) for r in range(realisations)])

    t_batched, xb = timed(batched, sync)
    t_loop, xl = timed(looped, sync)
    assert torch.allclose(xb, xl, rtol=1e-9, atol=1e-9), "batched and looped trajectories differ"
    steps = int(round((kw["t_burn"] + kw["t_record"]) / kw["dt"]))
    print(f"RK4 simulation, N = {n}, g = {g}, {realisations} realisations x {trajectories} trajectories, "
          f"{steps} steps, device {device}:")
    print(f"  batched                  {t_batched * 1e3:9.1f} ms")
    print(f"  one call per trajectory  {t_loop * 1e3:9.1f} ms")
    print(f"  ratio (loop / batched): {t_loop / t_batched:.1f}x")

    solution = dmft.solve(g)
    J0 = J[0].cpu()
    # the quadrature nodes of le.linear_equivalent_covariance(method="quadrature"), for the dense reference
    omega, weight = le._frequency_quadrature(n_omega)
    Dw = torch.as_tensor(solution.D_omega(omega) * weight / (2 * torch.pi), dtype=torch.float64)

    def eigen():
        return le.linear_equivalent_covariance(J0, solution, method="quadrature", n_omega=n_omega)

    def laplace():
        return le.linear_equivalent_covariance(J0, solution, method="laplace")

    def dense():
        return le.direct_spectrum(J0, solution.a, Dw, torch.from_numpy(omega)).sum(0).real

    t_eigen, ce = timed(eigen, lambda: None)
    t_laplace, cl = timed(laplace, lambda: None)
    t_dense, cd = timed(dense, lambda: None, warm_up=False)  # seconds long: no warm-up
    rel = float((ce - cd).abs().max() / cd.abs().max())
    assert rel < 1e-9, f"eigenbasis and dense quadratures differ by {rel:.1e}"
    rel_laplace = float((cl - cd).abs().max() / cd.abs().max())
    print(f"equal-time linear-equivalent covariance, N = {n}, g = {g} (CPU, complex128):")
    print(f"  dense solve at each of {n_omega} frequencies  {t_dense * 1e3:9.1f} ms")
    print(f"  eigenbasis, same {n_omega} frequencies        {t_eigen * 1e3:9.1f} ms   "
          f"(ratio {t_dense / t_eigen:.1f}x, largest relative difference {rel:.1e})")
    print(f"  eigenbasis, closed form (Laplace)       {t_laplace * 1e3:9.1f} ms   "
          f"(ratio {t_dense / t_laplace:.1f}x, differs from the quadrature by {rel_laplace:.1e})")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cpu", help="torch device for the simulation, e.g. cuda")
    parser.add_argument("--n", type=int, default=200, help="network size N")
    parser.add_argument("--g", type=float, default=2.0, help="coupling gain g (> 1: the chaotic phase)")
    args = parser.parse_args()
    main(n=args.n, g=args.g, device=args.device)
