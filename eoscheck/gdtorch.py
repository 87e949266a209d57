"""The torch path of the fast GD engine (CPU or CUDA): the algorithm of :mod:`eoscheck.gdnumpy`
on torch tensors, elementwise work through the loss's own torch evaluators (the CUDA path).
"""

from __future__ import annotations

import numpy as np
import torch

from .gdnumpy import ChunkBuffers
from .maxmargin import row_norm_max, row_norms
from .losses import Loss
from .sharpness import batch_sharpness_torch


class TorchBlock(ChunkBuffers):
    """The same algorithm on torch tensors; elementwise work through the loss's own torch forms."""

    def __init__(self, Z: np.ndarray, eta: np.ndarray, w0: np.ndarray | None, w_star: np.ndarray | None,
                 loss: Loss, method: str, chunk: int, device: torch.device):
        dt = torch.float64
        self.loss, self.method, self.dev = loss, method, device
        self.Z = torch.as_tensor(Z, dtype=dt, device=device)
        eta = self.init_rows(Z, eta, chunk)
        k, n, d = self.k, self.n, self.d
        self.eta_t = torch.as_tensor(eta, dtype=dt, device=device)
        self.coef = (self.eta_t / n)[:, None]
        p = n if method == "gram" else d
        self.Kmat = self.Z @ self.Z.T if method == "gram" else None
        self.M = torch.zeros((chunk + 1, k, n), dtype=dt, device=device)
        self.X = torch.zeros((chunk + 1, k, p), dtype=dt, device=device)
        self.Q = torch.zeros((chunk, k, n), dtype=dt, device=device)
        self.S = torch.zeros((k, n), dtype=dt, device=device)
        self.D = torch.zeros((k, p), dtype=dt, device=device)
        self.gn2 = torch.zeros((chunk, k), dtype=dt, device=device)
        self.alive = torch.ones((k, 1), dtype=dt, device=device)
        self.dead = np.zeros(k, dtype=bool)
        self.zt = self.Z.T.contiguous()
        if method == "primal":
            if w0 is not None:
                self.X[0] = torch.as_tensor(w0, dtype=dt, device=device)
            torch.matmul(self.X[0], self.zt, out=self.M[0])
        elif w0 is not None and np.any(w0):
            raise ValueError("the gram form needs w0 = 0")
        self.wstar = None if w_star is None else torch.as_tensor(w_star, dtype=dt, device=device)
        self.v = None if w_star is None else self.Z @ self.wstar
        self.zmax = float(np.max(np.abs(Z))) if Z.size else 0.0

    @torch.inference_mode()
    def advance(self, t0: int, nsteps: int, recorded: np.ndarray) -> None:
        M, X, Q, S, D, gn2 = self.M, self.X, self.Q, self.S, self.D, self.gn2
        gram, coef = self.method == "gram", self.coef
        any_dead = bool(self.dead.any())
        for j in range(nsteps):
            if j and not gram:
                torch.matmul(X[j], self.zt, out=M[j])
            torch.neg(self.loss.grad(M[j]), out=Q[j])
            torch.mul(Q[j], coef, out=S)
            if any_dead:
                S.mul_(self.alive)  # alive is 0/1; a dead row's q may be inf: zero it explicitly
                S.nan_to_num_(0.0, 0.0, 0.0)
            if gram:
                torch.matmul(S, self.Kmat, out=D)
                torch.sum(S * D, dim=1, out=gn2[j])
                torch.add(M[j], D, out=M[j + 1])
                torch.add(X[j], S, out=X[j + 1])
            else:
                torch.matmul(S, self.Z, out=D)
                torch.sum(D * D, dim=1, out=gn2[j])
                torch.add(X[j], D, out=X[j + 1])
        if not gram:
            torch.matmul(X[nsteps], self.zt, out=M[nsteps])

    def freeze(self, rows, js, nsteps) -> None:
        super().freeze(rows, js, nsteps)
        self.alive[torch.as_tensor(self.dead_idx, device=self.dev)] = 0.0

    def reductions(self, nsteps, rec, full):
        C, loss = nsteps, self.loss
        M, Q = self.M[:C], self.Q[:C]
        out = {"value_sum": loss.value(M).sum(-1), "q_sum": Q.abs().sum(-1),
               "m_min": M.amin(-1), "m_max": M.amax(-1), "gn2": self.gn2[:C]}
        idx = None if full else torch.as_tensor(rec, device=self.dev)
        Mr = M if full else M[idx]
        Xr = self.X[:C] if full else self.X[:C][idx]
        out["expneg_sum"] = torch.exp(-Mr).sum(-1)
        out["le0"] = (Mr <= 0).sum(-1)
        if self.method == "gram":
            out["wn2"] = (Xr * Mr).sum(-1)
            out["wproj"] = Xr @ self.v if self.v is not None else None
        else:
            out["wn2"] = (Xr * Xr).sum(-1)
            out["wproj"] = Xr @ self.wstar if self.wstar is not None else None
        return {k: (None if v is None else v.cpu().numpy()) for k, v in out.items()}

    def lse_log_values(self, js, rs):
        return torch.logsumexp(self.loss.log_value(self.M[self._index(js), self._index(rs)]), 1).cpu().numpy()

    def lse_negms(self, js, rs):
        return torch.logsumexp(-self.M[self._index(js), self._index(rs)], 1).cpu().numpy()

    def _index(self, idx):
        return torch.as_tensor(np.asarray(idx, dtype=np.int64), device=self.dev)

    def q_finite(self, j, r):
        return bool(torch.isfinite(self.Q[j, r]).all())

    def grad_finite(self, j, r):
        return bool(torch.isfinite(self.Q[j, r] @ self.Z).all())

    def grad_norms(self, js, rs):
        G = torch.stack([(-self.Q[j, r]) @ self.Z for j, r in zip(js, rs)]) if len(js) else \
            torch.zeros((0, self.d), dtype=self.Z.dtype, device=self.dev)
        return row_norms((G / self.n).cpu().numpy())

    def w_norm(self, j, r):
        X = self.X[j, r]
        if not bool(X.any()):
            return 0.0
        return row_norm_max((X @ self.Z if self.method == "gram" else X).cpu().numpy()[None])

    def sharpness(self, j):
        return batch_sharpness_torch(self.loss.hess(self.M[j]) / self.n, self.Z).cpu().numpy()

    def final_w(self, j):
        X = self.X[j]
        return (X @ self.Z if self.method == "gram" else X).cpu().numpy()


# ---------------------------------------------------------------------------------
# host side: records and exact trackers, shared by both backends
# ---------------------------------------------------------------------------------
