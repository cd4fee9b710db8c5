"""CUDA graphs for CuPy: a compiled :class:`anyad._program.Program` captured once
and relaunched (what ``anyad.jit(f).cuda_graph(...)`` returns).

CuPy is imported here only, when a capture is asked for.
"""

from __future__ import annotations

from typing import Any, Sequence

_SCALARS = frozenset((bool, int, float, complex))


class CudaGraphProgram:
    """A :class:`Program` captured once as a CUDA graph and relaunched.

    Calls copy the new inputs into the captured input buffers, launch the
    graph on its stream and return copies of the captured output buffers.
    """

    __slots__ = ("graph", "stream", "pool", "buffers", "outputs", "program")

    def __call__(self, args: Sequence[Any]) -> list:
        import cupy

        with self.stream:
            for buf, x in zip(self.buffers, args):
                if buf is not None:
                    cupy.copyto(buf, x)
            self.graph.launch(self.stream)
            return [None if o is None else (o.copy() if hasattr(o, "copy") else o) for o in self.outputs]


def capture_cuda_graph(program: Any, example_inputs: Sequence[Any]) -> CudaGraphProgram:
    """Capture one replay of a CuPy ``program`` as a CUDA graph.

    The replay loop needs no change: it makes no host synchronisation and
    takes no data-dependent decision, so running it once under stream capture
    records every kernel launch. What capture adds is fixed memory:

    * the inputs are copied into buffers allocated once, which the graph reads;
    * everything the replay allocates comes from a private memory pool used by
      nothing else, so the addresses baked into the graph stay valid: a block
      freed during capture (a slot reused) is only ever reused by the same
      graph, in the same order;
    * a first, uncaptured run loads every kernel and grows the pool to size
      before capture, so capture itself compiles and allocates nothing new.

    CuPy cannot capture cuBLAS or cuSOLVER calls (``matmul``, ``linalg``):
    CuPy raises ``NotImplementedError`` during capture, which this function
    lets through, and the plain :class:`Program` replay stays the way to run
    such programs. Untested here: no machine of this project has a GPU.
    """
    import cupy

    cls = CudaGraphProgram
    self = cls.__new__(cls)
    self.program = program
    self.pool = cupy.cuda.MemoryPool()
    self.stream = cupy.cuda.Stream(non_blocking=True)
    with cupy.cuda.using_allocator(self.pool.malloc), self.stream:
        self.buffers = [None if x is None or type(x) in _SCALARS else cupy.array(x, copy=True)
                        for x in example_inputs]
        args = [b if b is not None else x for b, x in zip(self.buffers, example_inputs)]
        program(args)  # warm-up: kernels loaded, pool grown
        self.stream.synchronize()
        self.stream.begin_capture()
        try:
            outputs = program(args)
        finally:
            self.graph = self.stream.end_capture()
        self.outputs = outputs
        self.graph.upload()
    return self
