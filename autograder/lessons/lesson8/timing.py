r"""Lesson 8's timing: CPU time per call on one BLAS thread, and the same training in PyTorch
for comparison (PyTorch is optional: the ``torch`` extra, not the course's; nothing else in
the lesson imports it).
"""
import contextlib
import time

import numpy as np

@contextlib.contextmanager
def one_blas_thread():
    """Run a block with numpy's OpenBLAS on one thread; elsewhere, change nothing.

    On a busy machine a multi-threaded matrix product can wait milliseconds
    for its threads to be scheduled, so a timing curve shows the scheduler
    instead of the operation count. This does what ``threadpoolctl`` does,
    for the OpenBLAS that numpy's wheels bundle (found among the loaded
    libraries on Linux); if it is not found, the block runs unchanged.
    """
    setter = getter = None
    try:
        import ctypes
        with open("/proc/self/maps") as maps:
            paths = sorted({line.split()[-1] for line in maps if "openblas" in line.lower() and ".so" in line})
        for path in paths:
            lib = ctypes.CDLL(path)
            for prefix, suffix in (("scipy_openblas", "64_"), ("openblas", "64_"), ("scipy_openblas", ""),
                                   ("openblas", "")):
                if hasattr(lib, f"{prefix}_set_num_threads{suffix}"):
                    setter = getattr(lib, f"{prefix}_set_num_threads{suffix}")
                    getter = getattr(lib, f"{prefix}_get_num_threads{suffix}")
                    break
            if setter:
                break
    except (OSError, AttributeError):
        setter = None
    if setter is None:
        yield
        return
    before = getter()
    setter(1)
    try:
        yield
    finally:
        setter(before)


def time_per_call(fn, repeats=5):
    """The CPU time of one call of fn() (seconds): the shortest of `repeats`, after a warm-up call.

    CPU time of this process, on one BLAS thread (:func:`one_blas_thread`):
    the time the computation itself takes, not the time other programs on a
    shared machine hold the processor. The minimum, as ``timeit`` recommends.
    """
    with one_blas_thread():
        fn()
        times = []
        for _ in range(repeats):
            t0 = time.process_time()
            fn()
            times.append(time.process_time() - t0)
    return float(min(times))


#: How to add PyTorch's CPU build on Linux (PyPI's Linux wheel brings gigabytes of CUDA libraries).
TORCH_CPU_INSTALL = "pip install torch --index-url https://download.pytorch.org/whl/cpu"


def train_with_torch(params0, X, y, lr, schedule, dtype="float64"):
    """The same MLP and SGD in PyTorch, from the same initial parameters and batches.

    The update is written out (``p -= lr * p.grad``), which is what
    ``torch.optim.SGD`` does without momentum; constructing that optimizer the
    first time imports PyTorch's compiler stack, seconds that are not training.
    PyTorch runs on one thread: these tensors are tiny, and extra threads only
    add synchronisation. Returns ``{"loss": full-data loss after each epoch,
    "seconds": CPU time of each epoch, "params": the final parameters}``.
    Needs PyTorch, which the course does not install by itself.
    """
    try:
        import torch
    except ImportError as err:
        raise ImportError(f"train_with_torch needs PyTorch, an optional part of the course: "
                          f"{TORCH_CPU_INSTALL} (Linux; elsewhere pip install torch)") from err
    tdtype = getattr(torch, dtype)
    bce = torch.nn.functional.binary_cross_entropy_with_logits
    params = [torch.tensor(p, dtype=tdtype, requires_grad=True) for p in params0]
    Xt, yt = torch.tensor(X, dtype=tdtype), torch.tensor(y, dtype=tdtype)

    def logits(Xb):
        h = Xb
        for i in range(len(params) // 2 - 1):
            h = torch.tanh(h @ params[2 * i] + params[2 * i + 1])
        return h @ params[-2] + params[-1]

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    losses, seconds = [], []
    try:
        for batches in schedule:
            t0 = time.process_time()
            for idx in batches:
                index = torch.as_tensor(idx)
                loss = bce(logits(Xt[index]), yt[index])
                loss.backward()
                with torch.no_grad():
                    for p in params:
                        p -= lr * p.grad
                        p.grad = None
            seconds.append(time.process_time() - t0)
            with torch.no_grad():
                losses.append(float(bce(logits(Xt), yt)))
    finally:
        torch.set_num_threads(threads)
    return {"loss": np.array(losses), "seconds": np.array(seconds),
            "params": [p.detach().numpy().copy() for p in params]}
