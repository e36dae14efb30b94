"""Linear Lens: neural networks seen through linear algebra, computed and checked.

The package holds every computation of the book; the chapters in ``notebooks/`` only call it.
Modules are named after the mathematics they implement:

- :mod:`linear_lens.activations`: the activation registry, $\\sigma(0)$, $\\sigma'(0)$, closed-form derivatives $\\sigma'$.
- :mod:`linear_lens.secants`: the secant slopes $\\sigma(z)/z$ and $(\\sigma(z) - \\sigma(0))/z$ without cancellation.
- :mod:`linear_lens.activation_stability`: the stability classification of activations (Lemmas 8 and 10, ``classify``).
- :mod:`linear_lens.activation_closed_forms`: $r(\\sigma)$, $K(\\sigma)$, the gains and the unstable set of each activation.
- :mod:`linear_lens.authors_activations`: the authors' 2020 activations and their Fig. 1 script, re-run.
- :mod:`linear_lens.affine`: networks as pointwise affine maps $f(x) = A^*(x)x + b^*(x)$ (Drgoňa et al., Lemma 3).
- :mod:`linear_lens.networks`: feedforward networks (eq. (3)/(6)) and batches of them (``NetworkBatch``), the Jacobian.
- :mod:`linear_lens.spectral_fields`: $A^*(x)$ over grids for batches of networks, closed-form eigenvalues, regions.
- :mod:`linear_lens.stability`: spectral radii, Theorem 6 and its corrected sufficient condition, joint spectral radii.
- :mod:`linear_lens.dynamics`: orbits, fixed points and Lyapunov exponents of $x_{k+1} = f(x_k)$.
- :mod:`linear_lens.attractors`: the attractor type of each network (Fig. 6's kinds), classified from the evidence of
  its orbits.
- :mod:`linear_lens.linear_maps`: weights with constrained spectra, the printed formulas and slim's constructions, and
  their samplers (Drgoňa et al., Appendix B).
- :mod:`linear_lens.spectral_promises`: the region each factorisation promises for the eigenvalues, and how far draws
  fall outside it.
- :mod:`linear_lens.constrained_layers`: trainable ``nn.Module`` layers with constrained weights, and ``fit_linear``.
- :mod:`linear_lens.model_sweep`: the 828-model sweep of Appendix D and the search for the attractor zoo.
- :mod:`linear_lens.tasks`: whitened regression tasks and their correlation matrices (Anguita, Chapter 2).
- :mod:`linear_lens.balanced`: the $\\lambda$-balanced property, which widths allow it, and how to build such weights
  (Anguita, Sections 3.4, 4.1).
- :mod:`linear_lens.init_balance`: how balanced the standard random initialisations are: variances, moments of $B$,
  Monte Carlo, growing widths (Anguita, Section 3.1).
- :mod:`linear_lens.gradient_flow`: gradient descent and exactly integrated gradient flow of two-layer linear networks.
- :mod:`linear_lens.aligned`: closed-form dynamics of the modes of aligned $\\lambda$-balanced networks and their
  analysis (Anguita, Theorem 3.2.1).
- :mod:`linear_lens.aligned_forms`: Theorem 3.2.1 as printed, and an independent high-precision (``mpmath``) reference
  for the modes.
- :mod:`linear_lens.modes`: the task's modes, weights read in them (modes, balance, factored form), and gradient
  descent mode by mode.
- :mod:`linear_lens.riccati`: the exact dynamics $QQ^\\top(t)$ of unaligned $\\lambda$-balanced networks, equal and unequal
  dimensions (Anguita, Sections 3.3-3.4): the Riccati matrix $F$, its eigenbasis, and the stable form ``qqt``.
- :mod:`linear_lens.riccati_forms`: the reference forms ``qqt`` corrects (Fukumizu's, Theorem 2.2.5, Theorem 3.3.1(3)
  as printed) and the proof of Theorem 3.3.1 evaluated step by step.
- :mod:`linear_lens.product_flow`: the closed ODE of the product $W_2W_1$ of $\\lambda$-balanced weights (this book).
- :mod:`linear_lens.descent_accuracy`: gradient descent against the exact flow at $t = k\\eta$ (Figs. 3.4-3.6).
- :mod:`linear_lens.ntk`: the neural tangent kernel of a two-layer linear network and the representations.
- :mod:`linear_lens.representations`: the weights' singular values and the representations of $\\lambda$-balanced
  networks as functions of $\\lambda$ (Anguita, Theorems 4.1.1-4.1.2).
- :mod:`linear_lens.laziness`: how lazily they learn: the NTK's movement, the linearisation, the sweep over
  $\\lambda$ (Anguita, Theorem 4.1.3).
- :mod:`linear_lens.shallow`: the shallow network and the large-$\\lambda$ limit of deep dynamics (Anguita, Section 4.2).
- :mod:`linear_lens.continual`: sequences of tasks learnt one after another, exactly and by gradient descent, and
  forgetting (Anguita, Section 4.4).
- :mod:`linear_lens.nonlinear`: ReLU and Tanh two-layer networks: what moves their balance, their fitted $\\lambda$,
  and the experiment of Fig. 4.8 (Anguita, Section 4.5).
- :mod:`linear_lens.dmft`: dynamic mean-field theory of the random recurrent network $\\dot x = -x + J\\phi(x)$ (Clark).
- :mod:`linear_lens.rnn`: its couplings, batched RK4 simulation (with the largest Lyapunov exponent), and estimators of
  covariances, spectra and autocorrelations.
- :mod:`linear_lens.linear_equivalence`: the linear-equivalent and naive-closure covariances, in $J$'s eigenbasis.
- :mod:`linear_lens.covariance_comparison`: debiased comparison of simulated covariances with predictions, with
  jackknife errors; the participation ratio; power-law fits.
- :mod:`linear_lens.rnn_sweep`: the sweep over sizes $N$ and coupling strengths $g$ that tests the linear equivalence.
- :mod:`linear_lens.sampling`: Haar-random orthogonal matrices, seeded Gaussian draws, grids over the phase portraits' domains.
- :mod:`linear_lens.progress`: text progress bars for anything that takes more than a few seconds.

The book machinery, which only chapters, tests and the book's build call, is the subpackage :mod:`linear_lens.book`:

- :mod:`linear_lens.book.plotting`: plot helpers shared by chapters (regions of the complex plane).
- :mod:`linear_lens.book.runner`: re-execute a chapter with your own parameters (``python -m linear_lens run 01``).
- :mod:`linear_lens.book.parameters`: a chapter's parameters: reading its parameters cell, converting and checking values.
- :mod:`linear_lens.book.claims`: claims as data (``claim``, ``report``), the source of the book's claims ledger.
- :mod:`linear_lens.book.survey`: run chapters once per seed in survey mode on Dask (``python -m linear_lens survey``).
- :mod:`linear_lens.book.launch`: every chapter as a notebook for Binder and Colab, and the launch links.

Submodules are imported on demand: ``from linear_lens import affine``.
"""

__version__ = "0.1.0"
