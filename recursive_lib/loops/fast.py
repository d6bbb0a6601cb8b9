"""The fast engine: the reference loop (:mod:`recursive_lib.loops.reference`) vectorised over repetitions.

The loop runs over iterations only; every repetition is one row of a ``(reps, cells)`` array of
*counts*: the pool is never stored point by point. Both estimators are linear in the empirical
measure, so a few counts per cell carry everything the metrics need.

ECDF (exact)
    The grid ECDF depends only on how many pool points fall in each of the ``G + 1`` cells
    ``(-inf, g_0], (g_0, g_1], ..., (g_{G-1}, inf)``, and a resampled point keeps its cell. So a real
    batch of ``k`` points is ``Multinomial(k, P(cells))``, the fit is ``pool / M_n`` and a synthetic batch is
    ``Multinomial(m2, pool / M_n)``: the same process as the reference loop, and W1 and MMD are the
    reference loop's exactly. *Approximation*: the fit's mean and variance treat each point of a cell as
    a draw from ``P`` conditioned on that cell (conditional mean, plus the conditional variance in
    ``var``). The error is the within-cell deviation of the pool points, of order
    ``(cell width) / sqrt(12 M_n)``, about 1 % of the Monte Carlo error of the mean on the paper grid.

KDE (binned)
    The pool lives on ``B`` fine bins that refine the evaluation grid ``r`` times and extend it by
    ``6 max(h_n)`` on each side; a point is stored as its bin's centre. The KDE is the binned counts
    convolved (FFT) with the Gaussian of width ``h_n``: the masses of the bins and the density at the
    grid points are exact for the binned pool. A synthetic batch is "pick a pool point, add
    ``N(0, h_n^2)``, re-bin", i.e. ``Multinomial(m2, binned KDE masses)``. ``r`` is the smallest
    refinement with bin width ``d <= h_T / 5``: rounding a point to its bin centre adds variance
    ``d^2 / 12 <= h_T^2 / 300``. Moving every point by at most ``d / 2`` moves the KDE by at most
    the mean ``|x - centre| <= d / 2`` in W1 and by that over the kernel width in MMD (the bounds
    the tests check). In practice it is far less: on the paper preset (``r = 3``, ``h_T = 0.075``)
    the W1 and MMD of the binned KDE of 100 000 points of the truth differ from those of the exact
    KDE of the same points by 2e-6 to 1.4e-5, against a mean ``|x - centre|`` of 2.6e-3, and a small
    share of the Monte Carlo standard error of their means at ``T = 2000``
    (``benchmarks/bench_engine.py`` measures it).
    The bins must reach where early, wide kernels put points, but the fit at iteration ``n`` only
    convolves the bins within ``6 h_n`` of the grid (the pool further out counts whole in the cdf):
    as ``h_n`` falls the FFT shrinks, 3 times on the authors' bias design (``h_1 = 2``).

Biased real data (:mod:`recursive_lib.data.contamination`)
    A real batch of ``k`` points is ``Multinomial(k, cell masses of P_n)``, ``P_n = (1 - b_n) P + b_n Q``, from the
    same uniforms as without bias. With the correction the pool holds importance-weighted masses:
    each real count is multiplied by the cell mean of ``dP / dP_n`` under ``P_n``, ``P(c) / P_n(c)``
    (see ``_RealBatches``), synthetic points weigh 1, and fits and picks use the normalised
    masses (:func:`pick_weighted`).

Randomness: one ``numpy.random.Generator`` per repetition, consumed in the same order whatever the
number of repetitions, so repetition ``r`` does not depend on how many others run beside it (up to
floating-point rounding: matrix products may be blocked differently for another number of rows).
Categorical draws are one flat ``searchsorted`` (on row-offset cumulative counts, for pools),
rather than ``Generator.multinomial``, which loops over cells, and new points enter the pool by
``np.add.at`` at their cells, at the cost of the points, not of the pool. A KDE pool has thousands
of bins, where a cumulative sum per pick would cost more than the fit: its picks search blocks of
bins first, on block sums kept beside the pool (:func:`pick_counts`, the same cells as the plain
search). The fit needs the convolutions only at the grid points, every ``r``-th bin: their spectra
are folded to ``1 / r`` of the length before the inverse FFT (``_KdeBins._decimate``).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

import numpy as np
from scipy import fft as sfft
from scipy.special import ndtr
from threadpoolctl import threadpool_limits

from recursive_lib._validation import check_choice, check_int
from recursive_lib.data.truths import cell_probabilities
from recursive_lib.estimators import registry_name
from recursive_lib.loops.regimes import BATCH_REGIMES, REGIMES, batch_sizes, check_alpha, training_sizes
from recursive_lib.metrics import GridMetrics, masses_from_cdf

ENGINE_ESTIMATORS = ("ecdf", "kde")
BLOCK = 32  # iterations of random numbers drawn per call of a repetition's Generator
PICK_BLOCK = 16  # cells per block of pick_counts
PICK_WIDE = 1024  # pools of more cells pick by blocks (pick_counts), narrower ones by a plain cumsum
_MAX_BINS = 2**16


# --------------------------------------------------------------------------- random numbers
class _Streams:
    """Per-repetition random numbers, drawn ``BLOCK`` iterations at a time.

    Repetition ``r`` always consumes its own Generator in the same order (per block of ``BLOCK``
    iterations: ``width`` real uniforms, the size of the first real batch (``m1``, or ``m_total`` in
    the fresh and replace regimes), then ``m2`` pick uniforms, then ``m2`` normals per iteration),
    so its numbers do not depend on how many repetitions run beside it, and a run with ``T``
    iterations is a prefix of one with more iterations.
    """

    def __init__(self, gens, width, m2, T, normals):
        self.gens, self.width, self.m2, self.T, self.normals = gens, width, m2, T, normals

    def _refill(self, start):
        size = BLOCK  # always a full block, so that a shorter run is a prefix of a longer one
        real, pick, noise = [], [], []
        for g in self.gens:
            real.append(g.random((size, self.width)))
            pick.append(g.random((size, self.m2)))
            if self.normals:
                noise.append(g.standard_normal((size, self.m2)))
        self.real, self.pick = np.stack(real, 1), np.stack(pick, 1)  # (size, R, m)
        self.noise = np.stack(noise, 1) if self.normals else None
        self.start = start

    def draw(self, i):
        """``(real uniforms (R, width), pick uniforms (R, m2), normals (R, m2) or None)`` of iteration ``i``."""
        if i % BLOCK == 0:
            self._refill(i)
        j = i - self.start
        return self.real[j], self.pick[j], None if self.noise is None else self.noise[j]


def shared_cells(cum: np.ndarray, u: np.ndarray) -> np.ndarray:
    """Counts ``(R, C)`` of draws from one categorical law shared by all rows.

    ``cum`` ``(C,)``: cumulative probabilities (last entry 1); ``u`` ``(R, k)``: uniforms on [0, 1).
    """
    R, C = u.shape[0], cum.size
    cell = np.searchsorted(cum, u, side="right") + (np.arange(R) * C)[:, None]
    return np.bincount(cell.ravel(), minlength=R * C).reshape(R, C)


def pick_cells(cum: np.ndarray, M: int, u: np.ndarray) -> np.ndarray:
    """Cells ``(R, k)`` of points picked uniformly from each row's pool, in increasing order.

    ``cum`` ``(R, C)``: integer cumulative counts of the pools (each row ending at ``M``);
    ``u`` ``(R, k)``: uniforms on [0, 1) (point ``floor(u M)`` is picked; the non-uniformity of
    ``floor`` is below ``M / 2^53``). One flat ``searchsorted`` on row-offset cumulative counts;
    the uniforms are sorted first (the order of the picks is irrelevant, and ``searchsorted``
    walks sorted needles faster).
    """
    R, C = cum.shape
    offsets = np.arange(R, dtype=np.int64)[:, None] * M
    point = (np.sort(u, axis=1) * M).astype(np.int64) + offsets
    flat = np.searchsorted((cum + offsets).ravel(), point.ravel(), side="right")
    return flat.reshape(u.shape) - (np.arange(R) * C)[:, None]


def block_sums(pool: np.ndarray, block: int = PICK_BLOCK) -> np.ndarray:
    """Each row's counts summed over blocks of ``block`` cells, ``(R, ceil(C / block))`` float64
    (the last block may be shorter)."""
    return np.add.reduceat(pool, np.arange(0, pool.shape[1], block), axis=1).astype(float)


def pick_counts(
    pool: np.ndarray, M: int, u: np.ndarray, sums: np.ndarray | None = None, block: int = PICK_BLOCK
) -> np.ndarray:
    """:func:`pick_cells` of the pools ``pool`` ``(R, C)`` (integer counts, any dtype), without
    their whole cumulative sums: the same cells.

    ``np.cumsum`` along a row costs a few nanoseconds per cell, and the KDE's pools have thousands
    of cells: the pick would cost more than the fit. So the cells are taken in blocks of
    ``block``: the needle (point ``floor(u M)``) first finds its block on the cumulative *block*
    counts ``sums`` (:func:`block_sums`, computed if not given: the loop keeps them up to date as
    points arrive), then its cell on the cumulative counts inside that one block. Every count is
    an integer held exactly, so the cells are :func:`pick_cells`'s, bit for bit.
    """
    R, C = pool.shape
    sums = block_sums(pool, block) if sums is None else sums
    nb = sums.shape[1]
    rows = np.arange(R)[:, None]
    point = np.floor(np.sort(u, axis=1) * M)  # integers, exact in float64
    ends = np.cumsum(sums, axis=1)
    found = np.searchsorted((ends + rows * float(M)).ravel(), (point + rows * float(M)).ravel(), side="right")
    blk = np.minimum(found.reshape(u.shape) - rows * nb, nb - 1)
    rest = point - (ends[rows, blk] - sums[rows, blk])  # the needle's rank inside its block
    # The block's cells, read past the pool's end as its last cell: the running count is already
    # above ``rest`` there, so they never count.
    first = blk * block + rows * C
    last = R * C - 1
    running = np.zeros(u.shape)
    within = np.zeros(u.shape, dtype=np.int64)
    flat = pool.reshape(-1)
    for j in range(block):
        running += flat.take(np.minimum(first + j, last))
        within += running <= rest
    return blk * block + within


def add_points(pool: np.ndarray, cells: np.ndarray, weight=1, sums: np.ndarray | None = None) -> None:
    """Add points at ``cells`` ``(R, k)`` (row ``r``'s to row ``r`` of ``pool``), in place.

    ``weight``: each point's mass (a scalar, or ``(R, k)``); ``sums``: the pool's
    :func:`block_sums`, kept up to date. One unbuffered ``np.add.at`` on the flat pool: its cost is
    the points', not the pool's (a ``bincount`` would allocate and add a whole pool).
    """
    R, C = pool.shape
    rows = np.arange(R)[:, None]
    _add_at(pool, cells + rows * C, weight)
    if sums is not None:
        _add_at(sums, cells // PICK_BLOCK + rows * sums.shape[1], weight)


def _add_at(target: np.ndarray, flat: np.ndarray, weight) -> None:
    # ufunc.at is fast only for values of the target's own dtype: an int scalar into floats is
    # 40 times slower, a length-1 array 4 times.
    mass = target.dtype.type(weight) if np.ndim(weight) == 0 else np.ravel(weight).astype(target.dtype)
    np.add.at(target.reshape(-1), flat.ravel(), mass)


def pick_weighted(pool: np.ndarray, u: np.ndarray) -> np.ndarray:
    """Cells ``(R, k)`` picked with probability proportional to each row's (float) masses ``pool``.

    The weighted counterpart of :func:`pick_cells`, for pools of importance-weighted masses
    (bias correction): each row's cumulative masses are normalised to end at 1 and offset by the
    row index, then one flat ``searchsorted``.
    """
    R, C = pool.shape
    cum = np.cumsum(pool, axis=1)
    cum /= cum[:, -1:]
    offsets = np.arange(R, dtype=float)[:, None]
    flat = np.searchsorted((cum + offsets).ravel(), (np.sort(u, axis=1) + offsets).ravel(), side="right")
    return np.minimum(flat.reshape(u.shape) - (np.arange(R) * C)[:, None], C - 1)


def _pick(pool: np.ndarray, M: int | None, u: np.ndarray, sums: np.ndarray | None) -> np.ndarray:
    # M is None for a pool of weighted masses (bias correction), else pool holds integer counts
    # and ``sums`` its block sums (or None: a narrow pool, where a plain cumsum is cheaper).
    if M is None:
        return pick_weighted(pool, u)
    if sums is not None:
        return pick_counts(pool, M, u, sums)
    return pick_cells(np.cumsum(pool, axis=1).astype(np.int64), M, u)


def _probability_cum(probs: np.ndarray) -> np.ndarray:
    cum = np.cumsum(np.clip(probs, 0.0, None))
    cum /= cum[-1]
    cum[-1] = 1.0
    return cum


# --------------------------------------------------------------------------- ECDF on cells
def cell_moments(truth, grid, nodes: int = 8) -> tuple[np.ndarray, np.ndarray]:
    """Conditional mean and variance of ``P`` on each of the ``G + 1`` grid cells, ``(G + 1,)`` each.

    Gauss-Legendre quadrature of ``pdf`` on each cell; the two unbounded cells are cut
    ``12 sqrt(var)`` beyond the grid. Cells of negligible mass get their midpoint and variance 0.
    """
    grid = np.asarray(grid, dtype=float)
    reach = 12 * math.sqrt(truth.var)
    edges = np.concatenate(([grid[0] - reach], grid, [grid[-1] + reach]))
    lo, hi = edges[:-1], edges[1:]
    x, w = np.polynomial.legendre.leggauss(nodes)
    points = (lo + hi)[:, None] / 2 + (hi - lo)[:, None] / 2 * x
    weights = (hi - lo)[:, None] / 2 * w * truth.pdf(points)
    mass = weights.sum(1)
    safe = mass > 1e-300
    denom = np.where(safe, mass, 1.0)
    mean = np.where(safe, (weights * points).sum(1) / denom, (lo + hi) / 2)
    second = np.where(safe, (weights * points**2).sum(1) / denom, mean**2)
    return mean, np.clip(second - mean**2, 0.0, None)


class _EcdfCells:
    """ECDF fits on the ``C = G + 1`` grid cells; the pool is ``(R, C)`` integer counts."""

    normals = False
    dtype = np.int64

    def __init__(self, truth, grid, mmd_width):
        self.grid = grid
        self.C = grid.size + 1
        self.real_cum = _probability_cum(cell_probabilities(truth, grid))
        self.cdf_true = truth.cdf(grid)
        self.masses_true = masses_from_cdf(self.cdf_true)
        self.metrics = GridMetrics(grid, mmd_width)
        self.value, self.within_var = cell_moments(truth, grid)
        self.second = self.value**2 + self.within_var

    def probs(self, dist) -> np.ndarray:
        """``(C,)`` masses of ``dist`` (anything with ``cdf``) on the cells."""
        return cell_probabilities(dist, self.grid)

    def curves(self, pool, M, h):
        """Fitted ``(cdf, density)`` at the grid points, ``(R, G)`` each; an ECDF has no density (NaN)."""
        cdf = np.cumsum(pool[:, :-1], axis=1) / M
        return cdf, np.full(cdf.shape, np.nan)

    def measure(self, pool, M, h):
        cdf = self.curves(pool, M, h)[0]
        mean = pool @ self.value / M
        var = pool @ self.second / M - mean**2
        w1 = self.metrics.w1(cdf, self.cdf_true)
        mmd = self.metrics.mmd(masses_from_cdf(cdf), self.masses_true)
        return w1, mmd, mean, var

    def synthetic(self, pool, M, h, u, noise, sums=None):
        """Cells ``(R, m2)`` of a synthetic batch: a resampled point keeps its cell."""
        return _pick(pool, M, u, sums)


# --------------------------------------------------------------------------- KDE on fine bins
class _KdeBins:
    """Binned KDE; the pool is ``(R, B)`` counts (float64, exact integers) on bins of width
    ``d = spacing / r``."""

    normals = True
    dtype = np.float64  # the FFT reads the pool without a copy

    def __init__(self, truth, grid, mmd_width, h_max, h_min, bins_per_cell=None):
        self.grid = grid
        spacing = (grid[-1] - grid[0]) / (grid.size - 1)
        if not np.allclose(np.diff(grid), spacing, rtol=1e-9, atol=0):
            raise ValueError("the KDE engine needs an evenly spaced grid")
        reach = 6 * h_max  # kernel mass beyond 6 h is 2e-9
        if bins_per_cell is None:
            r = max(1, math.ceil(spacing / (h_min / 5)))  # d <= h_T / 5
            while r > 1 and (grid.size - 1) * r + 2 * math.ceil(reach * r / spacing) > _MAX_BINS:
                r -= 1
        else:
            r = check_int("bins_per_cell", bins_per_cell, 1)
        self.r, self.d = r, spacing / r
        self.E = E = math.ceil(reach / self.d)
        self.B = (grid.size - 1) * r + 2 * E
        edges = grid[0] - E * self.d + self.d * np.arange(self.B + 1)
        self.lo = edges[0]
        self.centres = edges[:-1] + self.d / 2
        self.centres_sq = self.centres**2
        self.edges = edges
        self.real_cum = _probability_cum(self.probs(truth))
        self.cdf_true = truth.cdf(grid)
        self.metrics = GridMetrics(grid, mmd_width)
        self.masses_true = self.metrics.masses_from_pdf(truth.pdf(grid))

    def probs(self, dist) -> np.ndarray:
        """``(B,)`` masses of ``dist`` (anything with ``cdf``) on the bins, far tails in the end bins."""
        probs = np.diff(dist.cdf(self.edges))
        probs[0] += dist.cdf(self.edges[0])
        probs[-1] += 1.0 - dist.cdf(self.edges[-1])
        return probs

    def _window(self, h):
        """The bins the fit at bandwidth ``h`` needs: ``[start, stop)``, the grid plus ``6 h`` each side.

        Pool points further out put less than 2e-9 of their kernel mass on the grid; they still
        count, whole, in the cdf (left of the window) but need no convolution. With ``h_n``
        falling, the FFT shrinks from the whole pool range (``6 max h``) to the grid plus ``6 h_n``.
        Returns ``(L, start, stop, nfft)``: the kernel reach ``L`` in bins and the FFT length, a
        multiple of ``r`` (see :meth:`curves`).
        """
        L = min(self.E, math.ceil(6 * h / self.d))
        start, stop = self.E - L, min(self.B, self.E + (self.grid.size - 1) * self.r + L + 1)
        # The curves are read at window positions L + r i (grid point i), from window bins
        # [0, W), through kernels with offsets in [-(L + r - 1), L + 1]: a circular convolution
        # of length nfft >= r (G - 1) + 2 L + r keeps every read free of wrapped-around mass.
        r = self.r
        need = max(stop - start + 1, (self.grid.size - 1) * r + 2 * L + r)
        return L, start, stop, r * sfft.next_fast_len(-(-need // r), real=True)

    def _kernels(self, h, L, nfft):
        """Spectra ``(2, nfft // 2 + 1)`` of the two kernels, and ``w0`` ``(2 L,)``.

        Offset ``o = k - j`` from the centre of bin ``j``: kernel 0 is the mass landing in the
        ``r`` bins ``[j + o, j + o + r)`` (between two grid points), kernel 1 the density at the
        left edge of bin ``j + o``; each is the bin-mass kernel truncated to ``o`` in
        ``[-L, L + 1]`` (the mass beyond is below 2e-9), placed at index ``o - L`` so that the
        output at index ``t`` is the window's curve at position ``t + L``, and divided by ``r``
        (:meth:`_decimate` sums ``r`` spectral copies). ``w0[m]``: the mass that window bin ``m``
        puts left of grid point 0 (position ``L``).
        """
        r, d = self.r, self.d
        o = np.arange(-L, L + 2)
        mass = ndtr((o + 0.5) * d / h) - ndtr((o - 0.5) * d / h)
        dens = np.exp(-0.5 * ((o - 0.5) * d / h) ** 2) / (h * math.sqrt(2 * math.pi))
        padded = np.concatenate((np.zeros(r - 1), mass, np.zeros(r - 1)))
        between = sum(padded[s : s + mass.size + r - 1] for s in range(r))  # offsets -L-r+1 .. L+1
        ker = np.zeros((2, nfft))
        ker[0, (np.arange(-L - r + 1, L + 2) - L) % nfft] = between / r
        ker[1, (o - L) % nfft] = dens / r
        w0 = np.cumsum(mass)[2 * L - 1 :: -1] if L else np.zeros(0)  # o from -L to L - 1 - m
        return sfft.rfft(ker, axis=1), w0

    def _decimate(self, spectrum, kernels, nfft):
        """Every ``r``-th sample (from 0) of the circular convolutions of the rows whose
        half-spectra are ``spectrum`` ``(R, nfft // 2 + 1)`` with the kernels ``kernels``
        ``(K, nfft // 2 + 1)``: ``(R, K, nfft / r)``.

        The decimated signal's spectrum is the sum of the ``r`` aliased copies of the full one
        (bin ``j > nfft / 2`` the conjugate of bin ``nfft - j``), so one inverse FFT of length
        ``nfft / r`` replaces one of length ``nfft`` per kernel; the products are formed copy by
        copy, never as a whole ``(R, K, nfft // 2 + 1)`` array.
        """
        r, half = self.r, nfft // 2
        short = nfft // r
        width = short // 2 + 1
        folded = np.zeros((len(spectrum), len(kernels), width), dtype=complex)
        for k in range(r):  # copy k: bins j0 .. j0 + width - 1
            j0 = k * short
            direct = min(j0 + width, half + 1)
            if direct > j0:
                folded[..., : direct - j0] += spectrum[:, None, j0:direct] * kernels[:, j0:direct]
            mirrored = max(j0, half + 1)
            if j0 + width > mirrored:
                back = slice(nfft - mirrored, nfft - (j0 + width), -1)
                folded[..., mirrored - j0 :] += np.conj(spectrum[:, None, back] * kernels[:, back])
        return sfft.irfft(folded, n=short, axis=-1)

    def curves(self, pool, M, h):
        """Fitted ``(cdf, density)`` of the binned KDE at the grid points, ``(R, G)`` each.

        One FFT of the pool's window, two kernels, and the outputs at the grid points only
        (:meth:`_decimate`): the mass between consecutive grid points and the density at each.
        The cdf at grid point 0 adds the pool left of the window and the mass the window puts
        left of grid point 0 (``w0``); the rest are cumulative sums of the between-masses.
        """
        L, start, stop, nfft = self._window(h)
        spectra, w0 = self._kernels(h, L, nfft)
        spectrum = sfft.rfft(pool[:, start:stop], n=nfft, axis=1)
        out = self._decimate(spectrum, spectra, nfft)  # (R, 2, nfft / r)
        G = self.grid.size
        cdf = np.empty((len(pool), G))
        reach = min(w0.size, stop - start)
        cdf[:, 0] = pool[:, start : start + reach] @ w0[:reach]
        if start:
            cdf[:, 0] += pool[:, :start].sum(axis=1)
        np.cumsum(out[:, 0, : G - 1], axis=1, out=cdf[:, 1:])
        cdf[:, 1:] += cdf[:, :1]
        return np.clip(cdf / M, 0.0, 1.0), out[:, 1, :G] / M

    def measure(self, pool, M, h):
        cdf, dens = self.curves(pool, M, h)
        mean = pool @ self.centres / M
        var = pool @ self.centres_sq / M - mean**2 + h**2
        w1 = self.metrics.w1(cdf, self.cdf_true)
        mmd = self.metrics.mmd(self.metrics.masses_from_pdf(np.clip(dens, 0.0, None)), self.masses_true)
        return w1, mmd, mean, var

    def synthetic(self, pool, M, h, u, noise, sums=None):
        """Bins ``(R, m2)`` of a synthetic batch: pick a pool point, add ``N(0, h^2)``, re-bin."""
        source = _pick(pool, M, u, sums)
        x = self.centres[source] + h * noise
        return np.clip(np.floor((x - self.lo) / self.d).astype(np.int64), 0, self.B - 1)


# --------------------------------------------------------------------------- the loop
def run_fast(
    estimator,
    alpha: float,
    m1: int | None,
    T: int,
    truth,
    grid,
    rngs: Sequence[np.random.Generator],
    bandwidth: Callable[[int], float] | None = None,
    regime: str = "accumulate",
    mmd_width: float = 0.5,
    bins_per_cell: int | None = None,
    bias=None,
    bias_correction: bool = False,
    snapshots: Sequence[int] = (),
    *,
    m_total: int | None = None,
) -> dict[str, np.ndarray]:
    """Run ``len(rngs)`` repetitions of the recursive training loop at once.

    Parameters as :func:`recursive_lib.loops.reference.run_reference` (``estimator`` an instance
    of a family in ``ENGINE_ESTIMATORS``, a template: the KDE's bandwidth is ``bandwidth(n)``),
    except ``rngs`` holds one Generator per repetition (``R = len(rngs)``), and ``bins_per_cell``
    (KDE only) fixes the refinement ``r`` of the grid (default: smallest ``r`` with bin width
    ``<= h_T / 5``).

    Returns
    -------
    dict
        ``n``, ``M`` as ``(T,)`` arrays; ``w1``, ``mmd``, ``mean``, ``var`` as ``(R, T)`` arrays.
        With ``snapshots`` (iterations ``n`` in 1..T) also ``snapshot_n`` ``(S,)`` and the fitted
        ``cdf`` and ``density`` on the grid at those iterations, ``(R, S, G)`` each (density NaN for
        the ECDF).
    """
    estimator = check_choice("estimator", registry_name(estimator), ENGINE_ESTIMATORS)
    check_choice("regime", regime, REGIMES)
    alpha = check_alpha(regime, alpha)
    T = check_int("T", T, 1)
    gens = list(rngs)
    if not gens:
        raise ValueError("rngs must hold at least one Generator (one per repetition)")
    grid = np.asarray(grid, dtype=float)
    sizes = batch_sizes(regime, alpha, m1, m_total=m_total)
    model, hs, cells = _engine_model(estimator, truth, grid, mmd_width, bandwidth, T, bins_per_cell)

    real = _RealBatches(model, truth, bias, bias_correction)
    with threadpool_limits(1, user_api="blas"):
        # The products are small: BLAS threads only cost time, and fight parallel workers.
        out = _loop(model, gens, sizes, T, hs, cells, real, snapshots, regime)
    out["M"] = training_sizes(regime, alpha, m1, T, m_total=m_total)
    return out


def _engine_model(estimator, truth, grid, mmd_width, bandwidth, T, bins_per_cell):
    """``(model, hs, cells)``: the engine's model of the estimator (``_KdeBins`` or
    ``_EcdfCells``), the ``(T,)`` bandwidths ``h_n`` (zeros for the ECDF) and the pool's width."""
    if estimator == "kde":
        if bandwidth is None:
            raise ValueError("bandwidth (n -> h_n) is required for estimator 'kde'")
        hs = np.array([bandwidth(n) for n in range(1, T + 1)], dtype=float)
        if not np.all(np.isfinite(hs) & (hs > 0)):
            raise ValueError("bandwidth(n) must be finite and > 0 for n = 1, ..., T")
        kde = _KdeBins(truth, grid, mmd_width, hs.max(), hs.min(), bins_per_cell)
        return kde, hs, kde.B
    ecdf = _EcdfCells(truth, grid, mmd_width)
    return ecdf, np.zeros(T), ecdf.C


class _RealBatches:
    """Real batches of ``k`` points on the model's cells: ``Multinomial(k, cell masses of P_n)``.

    Without bias ``P_n = P``. With a :class:`recursive_lib.data.contamination.BiasSchedule` the cell masses are
    ``(1 - b_n) P(c) + b_n Q(c)``, recomputed each iteration (cheap: one vector per iteration, the
    uniforms are the same as without bias). With ``correction`` the batch is returned as weighted
    masses: the count of cell ``c`` times ``P(c) / P_n(c)``, the mean importance weight
    ``dP / dP_n`` of a ``P_n`` point in that cell. So the weighted mass has exactly the expectation
    ``k P(c)`` of an unbiased batch; it only ignores the variation of the weight within one cell
    (the cells are the evaluation grid for the ECDF and fine bins for the KDE, on which the weight
    is nearly constant).
    """

    def __init__(self, model, truth, bias, correction):
        self.model, self.bias = model, bias
        self.weighted = bool(correction) and bias is not None
        if bias is not None:
            self.p_probs = np.clip(model.probs(truth), 0.0, None)
            self.q_probs = np.clip(model.probs(bias.q_dist), 0.0, None)

    def add(self, pool: np.ndarray, n: int, u: np.ndarray, sums: np.ndarray | None = None) -> None:
        """Add the real batch of iteration ``n`` (``k`` points a row, from the uniforms ``u``
        ``(R, k)``) to ``pool``, in place (and to its block sums ``sums``, see :func:`add_points`)."""
        if self.bias is None:
            cum = self.model.real_cum
        else:
            b = self.bias.b(n)
            probs = (1.0 - b) * self.p_probs + b * self.q_probs
            cum = _probability_cum(probs)
        if not self.weighted:
            # sorted needles: searchsorted walks them faster, and the order of a batch is irrelevant
            add_points(pool, np.searchsorted(cum, np.sort(u, axis=1), side="right"), sums=sums)
            return
        safe = probs > 0
        weight = np.where(safe, self.p_probs / np.where(safe, probs, 1.0), 0.0)
        pool += shared_cells(cum, u) * weight  # count times weight, rounded once per cell


def _loop(model, gens, sizes, T, hs, cells, real, snapshots, regime):
    # Regimes (recursive_lib.loops.regimes.batch_sizes): real points at n = 1 and later, synthetic per fit.
    # accumulate and accumulate-initial keep everything in the pool; fresh and replace train on
    # this iteration's real points plus the previous model's samples only.
    first, later, m2 = sizes
    accumulating = regime not in BATCH_REGIMES
    streams = _Streams(gens, first, m2, T, model.normals)
    # With the bias correction the pool holds importance-weighted masses (float), synthetic
    # points weigh 1; the fit is the pool normalised by its total mass, row by row.
    weighted = real.weighted
    pool = np.zeros((len(gens), cells), dtype=np.float64 if weighted else model.dtype)
    # Wide count pools keep their block sums for the picks (pick_counts); weighted pools have none.
    sums = None if weighted or cells <= PICK_WIDE else np.zeros((len(gens), -(-cells // PICK_BLOCK)))
    out = {key: np.empty((len(gens), T)) for key in ("w1", "mmd", "mean", "var")}
    keep, kept = {int(n) for n in snapshots}, []  # fitted curves kept at these iterations n
    M = 0
    carried = None  # fresh / replace: the previous model's samples
    for i in range(T):
        u_real, u_pick, noise = streams.draw(i)
        k = first if i == 0 else later
        if not accumulating:
            pool[:] = 0
            if sums is not None:
                sums[:] = 0
            M = 0
            if carried is not None:
                add_points(pool, carried, sums=sums)
                M += m2
        if k:
            real.add(pool, i + 1, u_real[:, :k], sums)  # 1. real data
            M += k
        fit, mass = (pool / pool.sum(1, keepdims=True), 1.0) if weighted else (pool, M)
        stats = model.measure(fit, mass, hs[i])  # 2.-3. fit, measure
        if i + 1 in keep:
            kept.append(model.curves(fit, mass, hs[i]))
        for key, value in zip(("w1", "mmd", "mean", "var"), stats, strict=True):
            out[key][:, i] = value
        if m2 and i < T - 1:
            synthetic = model.synthetic(pool, None if weighted else M, hs[i], u_pick, noise, sums)  # 4.
            if accumulating:
                add_points(pool, synthetic, sums=sums)
                M += m2
            else:
                carried = synthetic  # the cells of the next iteration's synthetic points
    out["n"] = np.arange(1, T + 1)
    if keep:
        out["snapshot_n"] = np.array(sorted(n for n in keep if 1 <= n <= T), dtype=int)
        out["cdf"] = np.stack([c for c, _ in kept], axis=1)
        out["density"] = np.stack([d for _, d in kept], axis=1)
    return out
