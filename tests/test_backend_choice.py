"""Backend choice: a plain ``anyad.use(...)`` sets the process-wide default; ``with
anyad.use(...)`` overrides it for its block, per thread and per asyncio task.

The autouse fixture of conftest.py puts the process default back after each test.
"""

from __future__ import annotations

import asyncio
import contextvars
import threading

import numpy as np
import pytest

import anyad as ad

strict = pytest.importorskip("array_api_strict")


def _made_by_default() -> str:
    """The library of an array made from Python data, by a module name."""
    return type(ad.Variable([1.0]).value).__module__.split(".")[0]


def _in_thread(fn):
    out = []
    t = threading.Thread(target=lambda: out.append(fn()))
    t.start()
    t.join()
    return out[0]


def test_plain_call_reaches_threads_started_later():
    assert _made_by_default() == "numpy"
    ad.use("array_api_strict")
    assert ad.current_backend().name == "array_api_strict"
    assert _in_thread(_made_by_default) == "array_api_strict"
    ad.use("numpy")
    assert _in_thread(_made_by_default) == "numpy"


def test_plain_call_in_a_thread_is_the_process_default():
    _in_thread(lambda: ad.use("array_api_strict"))
    assert ad.current_backend().name == "array_api_strict"
    assert _made_by_default() == "array_api_strict"


def test_plain_call_survives_a_lost_context_as_in_jupyter():
    # each cell in a fresh, empty context (what kernels that drop context variables do)
    contextvars.Context().run(ad.use, "array_api_strict")
    assert contextvars.Context().run(_made_by_default) == "array_api_strict"


def test_with_block_is_local_to_its_thread():
    entered, checked = threading.Event(), threading.Event()
    seen = {}

    def worker():
        with ad.use("array_api_strict"):
            entered.set()
            checked.wait(10)
            seen["worker"] = _made_by_default()
        seen["worker after"] = _made_by_default()

    t = threading.Thread(target=worker)
    t.start()
    entered.wait(10)
    seen["main during"] = _made_by_default()  # the other thread is inside its block now
    checked.set()
    t.join()
    assert seen == {"worker": "array_api_strict", "worker after": "numpy", "main during": "numpy"}
    assert ad._backend.default_backend() is None or ad._backend.default_backend().name == "numpy"


def test_with_blocks_in_many_threads_never_see_each_other():
    names = ["numpy", "array_api_strict", "torch"] if _has("torch") else ["numpy", "array_api_strict"]
    barrier = threading.Barrier(len(names) * 2)
    wrong = []

    def worker(name):
        with ad.use(name):
            barrier.wait(10)
            for _ in range(200):
                got = ad.current_backend().name
                if got != name:
                    wrong.append((name, got))

    threads = [threading.Thread(target=worker, args=(n,)) for n in names * 2]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert wrong == []
    assert ad.current_backend().name == "numpy"


def test_a_thread_started_inside_a_block_sees_the_process_default():
    ad.use("numpy")
    with ad.use("array_api_strict"):
        assert _made_by_default() == "array_api_strict"
        # threads do not inherit context variables: the process default
        assert _in_thread(_made_by_default) == "numpy"


def test_with_blocks_in_asyncio_tasks():
    async def task(name, log):
        with ad.use(name):
            for _ in range(3):
                await asyncio.sleep(0)  # the other task runs in between, inside its own block
                log.append((name, _made_by_default()))

    async def main():
        log = []
        await asyncio.gather(task("numpy", log), task("array_api_strict", log))
        return log

    log = asyncio.run(main())
    assert len(log) == 6
    assert all(name == made for name, made in log)


def test_asyncio_tasks_inherit_the_block_they_were_created_in_and_see_plain_calls():
    async def made():
        return _made_by_default()

    async def main():
        with ad.use("array_api_strict"):
            inside = await asyncio.create_task(made())
        outside = await asyncio.create_task(made())
        await asyncio.create_task(_plain("array_api_strict"))  # a plain call in another task
        after = await asyncio.create_task(made())
        return inside, outside, after

    async def _plain(name):
        ad.use(name)

    assert asyncio.run(main()) == ("array_api_strict", "numpy", "array_api_strict")


def test_nesting_and_plain_calls_inside_a_block():
    with ad.use("array_api_strict"):
        with ad.use("numpy"):
            assert _made_by_default() == "numpy"
        assert _made_by_default() == "array_api_strict"
        ad.use("numpy")  # a plain call inside a block: the block's backend and the default
        assert _made_by_default() == "numpy"
        assert ad._backend.default_backend().name == "numpy"
    assert _made_by_default() == "numpy"
    ad.use("array_api_strict")
    with ad.use("numpy"):  # entering the block put the process default back
        assert ad._backend.default_backend().name == "array_api_strict"
        assert _in_thread(_made_by_default) == "array_api_strict"
    assert _made_by_default() == "array_api_strict"


def test_block_restores_on_error_and_device_is_kept():
    dev = strict.Device("device1")
    with pytest.raises(RuntimeError):
        with ad.use("array_api_strict", device=dev):
            assert ad.Variable([1.0]).device == dev
            raise RuntimeError("boom")
    assert ad.current_backend().name == "numpy"
    ad.use("array_api_strict", device=dev)
    assert _in_thread(lambda: ad.Variable([1.0]).device) == dev


def test_anyad_internal_blocks_never_touch_the_process_default():
    ad.use("array_api_strict")
    with ad._backend.local_backend(ad._backend.get_backend("numpy")):
        assert ad._backend.default_backend().name == "array_api_strict"
        assert _made_by_default() == "numpy"
    assert _made_by_default() == "array_api_strict"


def test_bound_namespace_functions_leave_the_default_alone():
    # the Array API namespace of a strict Variable, used while numpy is the default
    v = ad.Variable(strict.asarray([1.0, 2.0]))
    made = v.__array_namespace__().asarray([3.0])
    assert type(getattr(made, "value", made)).__module__.startswith("array_api_strict")
    assert ad._backend.default_backend() is None
    assert isinstance(ad.Variable([1.0]).value, np.ndarray)


def _has(module: str) -> bool:
    try:
        __import__(module)
    except ImportError:
        return False
    return True
