"""The engine: many GRU networks computed at once, fast, the same arithmetic as :mod:`simsvm.model`.

:mod:`~simsvm.engine.stacked` is ``M`` networks as one module with a hand-written recurrence
(:mod:`~simsvm.engine.recurrence`), whose bf16 time loops are compiled for the CPU at hand
(:mod:`~simsvm.engine.fused`, ``fused_gru.cpp``), and whose snapshots read whole files a chunk at
a time (:mod:`~simsvm.engine.inference`).  A run asks for all of it through one value,
:class:`~simsvm.engine.engine.Engine`, resolved once (:func:`~simsvm.engine.engine.resolve_engine`):
the products its ``matmul_precision`` comes to on the device, checked once, and the compiled loops
built once, before anything trains.
"""
