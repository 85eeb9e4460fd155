"""Multivariate drift: PCA reconstruction error of the numeric features (as NannyML's data reconstruction).

Univariate tests miss a change of the *relation* between features (two features that moved together
now move apart, each with its old marginal distribution). Fitted on the reference: impute a missing
value with the reference mean, standardise with the reference mean and standard deviation, keep the
principal components that explain ``VARIANCE`` of the variance; a row's reconstruction error is the
Euclidean distance between the standardised row and its projection back from those components.
The score is the window's mean error divided by the reference's own: about 1 while the joint
distribution is unchanged, above it when the window has structure the reference did not.

Bounded cost: at most ``MAX_ROWS`` rows of each side (evenly strided), at most ``limits.max_features``
columns, one SVD per run; it runs in the drift task, never on the scrape path.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

VARIANCE = 0.65  # NannyML's default n_components for its data reconstruction drift
MAX_ROWS = 5000


@dataclass(frozen=True)
class Reconstruction:
    reference_error: float
    error: float

    @property
    def ratio(self) -> float:
        return self.error / self.reference_error if self.reference_error > 1e-9 else math.nan


def _stride(x: np.ndarray) -> np.ndarray:
    if x.shape[0] <= MAX_ROWS:
        return x
    return x[np.linspace(0, x.shape[0] - 1, MAX_ROWS).astype(int)]


def reconstruction(reference: dict[str, np.ndarray], current: dict[str, np.ndarray]) -> Reconstruction | None:
    """None with fewer than two usable numeric features (nothing multivariate to see)."""
    names = [n for n in reference if n in current and np.isfinite(reference[n]).sum() > 1]
    if len(names) < 2 or not all(current[n].size for n in names):
        return None
    ref = _stride(np.column_stack([reference[n] for n in names]))
    cur = _stride(np.column_stack([current[n] for n in names]))
    mean = np.nanmean(ref, axis=0)
    std = np.nanstd(ref, axis=0)
    std[~(std > 0)] = 1.0

    def standard(x: np.ndarray) -> np.ndarray:
        x = np.where(np.isfinite(x), x, mean)
        return (x - mean) / std

    z_ref, z_cur = standard(ref), standard(cur)
    _, sing, vt = np.linalg.svd(z_ref, full_matrices=False)
    explained = np.cumsum(sing**2) / max(float(np.sum(sing**2)), 1e-300)
    # Never every component: a full basis reconstructs anything exactly and sees nothing.
    k = min(int(np.searchsorted(explained, VARIANCE) + 1), len(names) - 1)
    basis = vt[:k]

    def error(z: np.ndarray) -> float:
        back = (z @ basis.T) @ basis
        return float(np.mean(np.linalg.norm(z - back, axis=1)))

    return Reconstruction(error(z_ref), error(z_cur))
