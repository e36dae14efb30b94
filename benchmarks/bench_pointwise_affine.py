"""Benchmark: batched A*(x) over a 2-D grid against a per-point Python loop (the simple reference).

Prints the time of each and their ratio; run with `make benchmarks` or `.venv/bin/python benchmarks/<this file>`.
Both compute the same matrices (checked), so the ratio is the price of not batching.
"""

import argparse
import time

import torch

from linear_lens import affine, networks, sampling, stability


def per_point(weights, biases, activation, points, form="paper"):
    """The reference: one point at a time, as a notebook loop would do it."""
    out = []
    for x in points:
        A, _ = affine.pointwise_affine(weights, biases, activation, x, form=form)
        out.append(stability.spectral_radius(A))
    return torch.stack(out)


def main(n: int = 101, depth: int = 8, width: int = 16, device: str = "cpu", activation: str = "tanh",
         form: str = "paper") -> None:
    g = torch.Generator().manual_seed(0)
    weights, biases = networks.random_network([2] + [width] * depth + [2], bias=True, generator=g)
    weights, biases = [w.to(device) for w in weights], [b.to(device) for b in biases]
    _, _, grid = sampling.grid_2d(-6, 6, n, device=device)
    points = grid.reshape(-1, 2)
    sync = torch.cuda.synchronize if torch.device(device).type == "cuda" else (lambda: None)

    def batched_run():
        return stability.spectral_radius(affine.pointwise_affine(weights, biases, activation, points, form=form)[0])

    batched_run()  # warm-up
    sync()
    start = time.perf_counter()
    batched = batched_run()
    sync()
    t_batched = time.perf_counter() - start

    start = time.perf_counter()
    looped = per_point(weights, biases, activation, points, form)
    sync()
    t_loop = time.perf_counter() - start

    assert torch.allclose(batched, looped, rtol=1e-12), "batched and looped results differ"
    print(f"rho(A*(x)) on a {n}x{n} grid, depth {depth}, width {width}, {activation} ({form} form), device {device}:")
    print(f"  batched  {t_batched * 1e3:8.1f} ms")
    print(f"  per-point loop {t_loop * 1e3:8.1f} ms")
    print(f"  ratio (loop / batched): {t_loop / t_batched:.1f}x")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cpu", help="torch device, e.g. cuda")
    parser.add_argument("--n", type=int, default=101, help="grid points per axis")
    parser.add_argument("--activation", default="tanh", help="a registered activation name")
    parser.add_argument("--form", default="paper", choices=affine.FORMS, help="the decomposition of sigma")
    args = parser.parse_args()
    main(n=args.n, device=args.device, activation=args.activation, form=args.form)
