"""Linear Lens: neural networks seen through linear algebra, computed and checked.

The package holds every computation of the book; the chapters in ``notebooks/`` only call it.
Modules are named after the mathematics they implement:

- :mod:`linear_lens.activations`: the activation registry, $\\sigma(0)$, $\\sigma'(0)$, closed-form derivatives $\\sigma'$.
- :mod:`linear_lens.secants`: the secant slopes $\\sigma(z)/z$ and $(\\sigma(z) - \\sigma(0))/z$ without cancellation.
- :mod:`linear_lens.activation_stability`: the stability classification of activations (Lemmas 8 and 10, ``classify``).
- :mod:`linear_lens.activation_closed_forms`: $r(\\sigma)$, $K(\\sigma)$, the gains and the unstable set of each activation.
- :mod:`linear_lens.authors_activations`: the authors' 2020 activations and their Fig. 1 script, re-run.
- :mod:`linear_lens.affine`: networks as pointwise affine maps $f(x) = A^*(x)x + b^*(x)$ (Drgona et al., Lemma 3).
- :mod:`linear_lens.networks`: feedforward networks (eq. (3)/(6)) and batches of them (``NetworkBatch``), the Jacobian.
- :mod:`linear_lens.spectral_fields`: $A^*(x)$ over grids for batches of networks, closed-form eigenvalues, regions.
- :mod:`linear_lens.stability`: spectral radii, Theorem 6 and its corrected sufficient condition, joint spectral radii.
- :mod:`linear_lens.dynamics`: orbits, fixed points, Lyapunov exponents and attractors of $x_{k+1} = f(x_k)$.
- :mod:`linear_lens.linear_maps`: weights with constrained spectra (Drgona et al., Appendix B).
- :mod:`linear_lens.model_sweep`: the 828-model sweep of Appendix D and the search for the attractor zoo.
- :mod:`linear_lens.tasks`: whitened regression tasks and their correlation matrices (Anguita, Chapter 2).
- :mod:`linear_lens.balanced`: the $\\lambda$-balanced property and its initialisations (Anguita, Sections 3.1, 3.4).
- :mod:`linear_lens.gradient_flow`: gradient descent and exactly integrated gradient flow of two-layer linear networks.
- :mod:`linear_lens.aligned`: closed-form dynamics of aligned $\\lambda$-balanced networks (Anguita, Theorem 3.2.1).
- :mod:`linear_lens.sampling`: Haar-random orthogonal matrices, seeded Gaussian draws, grids over the phase portraits' domains.
- :mod:`linear_lens.plotting`: plot helpers shared by chapters (regions of the complex plane).
- :mod:`linear_lens.progress`: text progress bars for anything that takes more than a few seconds.
- :mod:`linear_lens.runner`: re-execute a chapter with your own parameters (``python -m linear_lens run 01``).

Submodules are imported on demand: ``from linear_lens import affine``.
"""

__version__ = "0.1.0"
