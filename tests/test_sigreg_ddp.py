"""SIGReg under torch.distributed equals single-process SIGReg on the concatenated batch.

Two CPU processes (gloo) each hold part of a fixed batch z = X W with a shared W. Compared with one
process on the whole batch at the same seed and step:
- the loss is the same on every rank;
- the gradient on each rank's rows is world_size times the single-process one (each rank's loss
  is the global loss, and the all-reduce backward sums over ranks), so that
- the rank-averaged gradient of W (what DDP computes) is the single-process gradient of W.
The second call uses an unequal split, which checks the N-weighted average and the global N.
"""

from __future__ import annotations

import os
import socket
from datetime import timedelta
from pathlib import Path

import pytest
import torch
import torch.distributed as dist
import torch.multiprocessing as mp

from aither_wm.regularizers import SIGReg

WORLD = 2
N, F, D, P = 24, 8, 6, 32
SPLITS = ((12, 12), (10, 14))  # rows per rank at step 0 and at step 1


def _problem() -> tuple[torch.Tensor, torch.Tensor]:
    gen = torch.Generator().manual_seed(0)
    X = torch.randn(N, F, generator=gen, dtype=torch.float64)
    W = torch.randn(F, D, generator=gen, dtype=torch.float64) / F**0.5
    return X, W


def _make_reg() -> SIGReg:
    return SIGReg(num_slices=P, use_axis_slices=True, seed=7)


def _worker(rank: int, port: int, out_dir: str) -> None:
    torch.set_num_threads(1)
    os.environ["MASTER_ADDR"] = "127.0.0.1"
    os.environ["MASTER_PORT"] = str(port)
    dist.init_process_group("gloo", rank=rank, world_size=WORLD, timeout=timedelta(seconds=30))
    try:
        X, W0 = _problem()
        reg = _make_reg()
        results = []
        for split in SPLITS:
            start = sum(split[:rank])
            W = W0.clone().requires_grad_()
            z = X[start : start + split[rank]] @ W  # [n_rank, D]
            z.retain_grad()
            loss = reg(z)
            loss.backward()
            results.append({"loss": loss.detach(), "z_grad": z.grad, "W_grad": W.grad})
        torch.save({"results": results, "step": reg.step}, Path(out_dir) / f"rank{rank}.pt")
    finally:
        dist.destroy_process_group()


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _run_ranks(tmp_path: Path) -> list[dict]:
    last_error: Exception | None = None
    for attempt in range(3):  # a port grabbed between probing and binding: try another
        out_dir = tmp_path / f"attempt{attempt}"
        out_dir.mkdir()
        try:
            mp.spawn(_worker, args=(_free_port(), str(out_dir)), nprocs=WORLD, join=True)
        except Exception as e:  # pragma: no cover - only on a port race
            last_error = e
            continue
        return [torch.load(out_dir / f"rank{r}.pt") for r in range(WORLD)]
    raise AssertionError(f"distributed workers failed 3 times: {last_error}")


@pytest.mark.timeout(120)
def test_ddp_matches_single_process(tmp_path: Path) -> None:
    ranks = _run_ranks(tmp_path)
    X, W0 = _problem()
    reg = _make_reg()
    for step, split in enumerate(SPLITS):
        W = W0.clone().requires_grad_()
        z = X @ W  # [N, D]
        z.retain_grad()
        loss = reg(z)
        loss.backward()
        assert z.grad is not None and W.grad is not None
        start = 0
        for r, out in enumerate(ranks):
            got = out["results"][step]
            rows = slice(start, start + split[r])
            start += split[r]
            torch.testing.assert_close(got["loss"], loss.detach(), rtol=1e-10, atol=1e-12)
            torch.testing.assert_close(got["z_grad"], WORLD * z.grad[rows], rtol=1e-9, atol=1e-12)
            assert out["step"] == len(SPLITS)
        W_grad = sum(out["results"][step]["W_grad"] for out in ranks) / WORLD
        torch.testing.assert_close(W_grad, W.grad, rtol=1e-9, atol=1e-12)
