"""One GRU layer of ``M`` networks over a whole sequence, with a hand-written backward pass.

``nn.GRU`` under autograd spends more of a training step in a dozen small element-wise
operations per time step, and their bookkeeping, than in its matrix products (measured with
``python -m simsvm.bench --profile``).  Here a step is a few fused operations, every buffer
is time-major, ``(time, models, batch, features)``, so that one step's slice is contiguous, and
what the backward pass multiplies the incoming gradient by (five factors per unit) is computed in
the forward loop while the step's values are in cache.  The gate equations are those of
``nn.GRU`` (the reset gate multiplies ``W_hn h + b_hn``); tests compare outputs and gradients with
``nn.GRU`` and run ``gradcheck``.

The products come in three precisions (``precision``; :func:`product_precision` picks one):

``'fp32'``
    Every product per time step in float32: the arithmetic of every run made before reduced
    precision existed, bit for bit.
``'bf16'``
    The products that need no earlier step's result are taken out of the loop and done once
    over the whole sequence in bfloat16 (AMX or AVX512-BF16 on a CPU): the input projection
    forward; backward the input gradient and both weight gradients.  A product accumulates in
    float32 and its result is rounded to bfloat16 once; the states, the gates, each step's
    recurrent product, the gradients carried through time and the optimiser stay float32.  In
    training the recurrent product stays float32 because at one network's size (100 x 100 by
    100 x 300) bfloat16 was no faster on the project's AMX machine, and it carries the
    recurrence's error forward; without training and with at least ``LOW_RECURRENT_ROWS`` rows
    (whole-file snapshots, 512 files at a time on a CPU) it is bfloat16 too, about three times
    as fast there.  On a CPU the time loop is compiled code (:mod:`simsvm.engine.fused`): a step
    is its recurrent product and one vectorised pass over its units, with the exponential
    computed by a polynomial (within 2 ulp); where that code cannot be built, the PyTorch loop
    below runs instead, with the same products.
``'tf32'``
    The same arrangement with float32 tensors, whose products CUDA may round to TensorFloat-32
    inside (allowed for the duration of the call only).  On a GPU the launches saved per step
    count as much as the faster products.
"""

from __future__ import annotations

import contextlib
import functools
import warnings

import torch

from simsvm.engine.cpu import cpu_has_bf16
from simsvm.engine.fused import fused_gru_ops
from simsvm.exceptions import ParameterError
from simsvm.names import MATMUL_PRECISIONS

__all__ = ["gru_loop", "loop_threads", "product_precision", "stacked_gru"]

# Rows (models x batch) from which a bf16 run without training (a snapshot) multiplies the
# state in bfloat16 too: on the project's AMX Xeon, 512 rows by 100 x 300 took 108 us in
# bfloat16 against 315 in float32, while at training's 100 rows bfloat16 was no faster.
LOW_RECURRENT_ROWS = 256

# Values per step (rows x 3 x hidden, a step's gate pre-activations) from which the compiled
# loops share a step among torch's threads: PyTorch's own grain (at::internal::GRAIN_SIZE), from
# which its element-wise operations in the fp32 loop go parallel too.  Below it a loop runs on
# the calling thread alone, its per-step products included.  A step of one network is tens of
# microseconds of work, and a shared step is a fork and a join of the thread pool: on a 2-core
# AMD EPYC with the other core busy, every join waited for a time slice, and one network trained
# in bf16 on two threads 7 times slower than when nothing else ran (fp32: 1.7 times).
PARALLEL_STEP_VALUES = 32768

_PRODUCT_PRECISIONS = ("fp32", "bf16", "tf32")


def product_precision(matmul_precision: str, device: str | torch.device, *, warn: bool = True) -> str:
    """How the products of a ``matmul_precision`` run compute on ``device``: fp32, bf16 or tf32.

    ``'bf16'`` is bfloat16 on a CPU that has it natively, TF32 on a CUDA device (measured on an
    H200, a stacked training step of 40 networks: 57 ms with TF32, 76 ms in bfloat16, 81 ms in
    float32), and float32 elsewhere, with a warning (once per process, if ``warn``): emulated
    bfloat16 products would be slower than float32 ones.  With ``warn``, a CPU's bf16 also builds
    the fused loops now (:func:`~simsvm.engine.fused.fused_gru_ops`), so that the workers of a
    run find them built, and says once if they cannot be.
    """
    if matmul_precision not in MATMUL_PRECISIONS:
        raise ParameterError(f"matmul_precision must be one of {MATMUL_PRECISIONS}, got {matmul_precision!r}")
    device = torch.device(device)
    if matmul_precision == "fp32":
        return "fp32"
    if device.type == "cuda":
        return "tf32"
    if device.type == "cpu" and cpu_has_bf16():
        if warn:  # build the fused loops where the run is planned, before any worker needs them
            fused_gru_ops(warn=True)
        return "bf16"
    if warn:
        _warn_no_bf16(device.type)
    return "fp32"


@functools.cache
def _warn_no_bf16(device_type: str) -> None:
    what = "this CPU has neither AMX-BF16 nor AVX512-BF16" if device_type == "cpu" else device_type
    warnings.warn(
        f"matmul_precision 'bf16': {what}, so the products run in float32 "
        "(emulated bfloat16 would be slower)",
        RuntimeWarning,
        stacklevel=3,
    )


class _StackedGRU(torch.autograd.Function):
    @staticmethod
    def forward(ctx, inputs, weight_ih, weight_hh, bias_ih, bias_hh, initial, precision, training):
        with _products_in(precision):
            return _forward(ctx, inputs, weight_ih, weight_hh, bias_ih, bias_hh, initial, precision, training)

    @staticmethod
    def backward(ctx, grad_outputs):
        with _products_in(ctx.precision):
            return _backward(ctx, grad_outputs)


def _forward(ctx, inputs, weight_ih, weight_hh, bias_ih, bias_hh, initial, precision, training):
    """The states at every step; when training, also what the backward pass needs (in ``ctx``).

    ``training``: gradients will be asked for.  Not ``ctx.needs_input_grad``, which is true of
    parameters under ``torch.no_grad`` too: snapshots would compute the backward's factors.
    """
    ctx.precision = precision
    steps, models, batch, _ = inputs.shape
    hidden = weight_hh.shape[1]
    hoisted = precision != "fp32"
    bias_input = _bias_input(bias_ih, bias_hh)
    states = inputs.new_empty(steps + 1, models, batch, hidden)
    states[0] = initial
    # Per step, what the backward pass multiplies the incoming gradient by (see there),
    # computed in the forward loop while the step's values are in cache.
    factors = inputs.new_empty(steps if training else 0, models, batch, 5, hidden)
    ctx.fused = _fused_loops(precision, inputs)
    # without training and with enough rows, a bf16 run's recurrent product is bfloat16 as well
    low_recurrent = precision == "bf16" and not training and models * batch >= LOW_RECURRENT_ROWS
    product = None
    if hoisted:
        # one product per model over every step, model-major (M, time * batch, 3 hidden)
        inputs = _model_major(inputs, torch.bfloat16 if precision == "bf16" else inputs.dtype)
        product = torch.bmm(inputs, weight_ih.to(inputs.dtype))
    if ctx.fused is not None:
        with loop_threads(models * batch * 3 * hidden):
            ctx.fused.forward(
                product.view(models, steps, batch, 3 * hidden),
                bias_input,
                weight_hh.contiguous(),
                bias_hh[:, 2 * hidden :].contiguous(),
                states,
                factors,
                low_recurrent,
            )
    else:
        _forward_steps(
            inputs, product, weight_ih, weight_hh, bias_input, bias_hh, states, factors, low_recurrent
        )
    if training:
        # the inputs as the backward's products take them (model-major where hoisted)
        ctx.save_for_backward(inputs, weight_ih, weight_hh, states, factors)
    return states[1:]


def _forward_steps(
    inputs, product, weight_ih, weight_hh, bias_input, bias_hh, states, factors, low_recurrent=False
):
    """The time loop in PyTorch operations: ``states[1:]`` and ``factors`` from ``states[0]``.

    ``product`` is the hoisted input projection ``(M, time * batch, 3 hidden)`` without biases,
    or ``None``: then each step projects its own inputs ``(time, M, batch, n_inputs)``.
    ``low_recurrent``: each step's recurrent product in bfloat16 (as ``fused_gru.cpp`` does it).
    """
    steps, models, batch, hidden = states.shape[0] - 1, *states.shape[1:]
    training, hoisted = factors.shape[0] > 0, product is not None
    bias_input, bias_hn = bias_input[:, None, :], bias_hh[:, None, 2 * hidden :]
    if hoisted:
        # copy_ then add_: a bfloat16 + float32 add in one call takes PyTorch's slow mixed-type path
        projected_all = states.new_empty(models, steps, batch, 3 * hidden)
        projected_all.view(models, steps * batch, -1).copy_(product)
        projected_at = projected_all.add_(bias_input[:, None]).unbind(1)
    else:
        projected = states.new_empty(models, batch, 3 * hidden)
    recurrent = states.new_empty(models, batch, 3 * hidden)
    gates = states.new_empty(models, batch, 2 * hidden)
    candidate = states.new_empty(models, batch, hidden)
    one = states.new_ones(())
    low_weight_hh = weight_hh.to(torch.bfloat16) if low_recurrent else None
    # Views made once: slicing inside the loop costs about as much as the arithmetic.
    recurrent_gates, recurrent_n = recurrent[..., : 2 * hidden], recurrent[..., 2 * hidden :]
    reset, update = gates[..., :hidden], gates[..., hidden:]
    input_at, state_at, factors_at = inputs.unbind(0), states.unbind(0), factors.unbind(0)
    for step in range(steps):
        if hoisted:
            projected = projected_at[step]
        else:
            torch.baddbmm(bias_input, input_at[step], weight_ih, out=projected)
        if low_recurrent:
            recurrent.copy_(torch.bmm(state_at[step].to(torch.bfloat16), low_weight_hh))
        else:
            torch.bmm(state_at[step], weight_hh, out=recurrent)
        recurrent_n.add_(bias_hn)
        torch.sigmoid(projected[..., : 2 * hidden].add_(recurrent_gates), out=gates)
        torch.tanh(projected[..., 2 * hidden :].addcmul_(reset, recurrent_n), out=candidate)
        torch.lerp(candidate, state_at[step], update, out=state_at[step + 1])
        if training:
            through_reset, through_update, through_candidate, candidate_recurrent, keep = factors_at[
                step
            ].unbind(2)
            torch.addcmul(one, candidate, candidate, value=-1, out=through_candidate)
            through_candidate.addcmul_(through_candidate, update, value=-1)  # (1 - n^2)(1 - z)
            torch.mul(through_candidate, reset, out=candidate_recurrent)
            torch.addcmul(reset, reset, reset, value=-1, out=through_reset)  # r(1 - r)
            through_reset.mul_(recurrent_n).mul_(through_candidate)
            torch.addcmul(update, update, update, value=-1, out=through_update)  # z(1 - z)
            through_update.mul_(state_at[step] - candidate)
            keep.copy_(update)


def _backward(ctx, grad_outputs):
    """Gradients of the inputs, the four parameters and the initial state, from the last step back."""
    inputs, weight_ih, weight_hh, states, factors = ctx.saved_tensors
    steps, models, batch, _, hidden = factors.shape
    hoisted = ctx.precision != "fp32"
    weight_ih_t, weight_hh_t = weight_ih.transpose(1, 2), weight_hh.transpose(1, 2)
    grad_outputs = grad_outputs.contiguous()
    grad_weight_ih = grad_weight_hh = grad_inputs = grad_inputs_at = None
    if hoisted:
        # The products that need no earlier step's result wait until after the loop; their
        # operands are gathered model-major in the product precision as the loop goes.
        low_grad_projected = factors.new_empty(models, steps, batch, 3 * hidden, dtype=inputs.dtype)
        low_grad_recurrent = torch.empty_like(low_grad_projected)
        low_grad_projected_at, low_grad_recurrent_at = (
            low_grad_projected.unbind(1),
            low_grad_recurrent.unbind(1),
        )
    else:
        grad_weight_ih, grad_weight_hh = torch.zeros_like(weight_ih), torch.zeros_like(weight_hh)
        if ctx.needs_input_grad[0]:
            grad_inputs = torch.empty_like(inputs)
            grad_inputs_at = grad_inputs.unbind(0)
        inputs_t_at, states_t_at = inputs.transpose(2, 3).unbind(0), states.transpose(2, 3).unbind(0)
    if ctx.fused is not None:
        summed = factors.new_zeros(models, batch, 4, hidden)  # slots 0-3 below
        with loop_threads(models * batch * 3 * hidden):
            carry = ctx.fused.backward(
                grad_outputs, factors, weight_hh, low_grad_projected, low_grad_recurrent, summed
            )
    else:
        # The gradient of one step's state times its five factors gives, in this order, the
        # gradients of the pre-activations of the reset gate, the update gate, the candidate's
        # input side and its recurrent side (scaled by the reset gate), and the direct path to
        # the previous state.  Input projection: slots 0, 1, 2; recurrent products: 0, 1, 3.
        scaled = factors.new_empty(models, batch, 5, hidden)
        grad_recurrent = factors.new_empty(models, batch, 3, hidden)
        recurrent_slots = torch.tensor([0, 1, 3], device=factors.device)
        summed = factors.new_zeros(models, batch, 5, hidden)  # for the bias gradients
        carry = factors.new_zeros(models, batch, hidden)
        grad_projected = scaled[:, :, :3].reshape(models, batch, 3 * hidden)  # a view
        flat_recurrent, direct = grad_recurrent.view(models, batch, 3 * hidden), scaled[:, :, 4]
        grad_output_at, factors_at = grad_outputs.unbind(0), factors.unbind(0)
        for step in range(steps - 1, -1, -1):
            grad_state = grad_output_at[step] + carry
            torch.mul(factors_at[step], grad_state[:, :, None, :], out=scaled)
            torch.index_select(scaled, 2, recurrent_slots, out=grad_recurrent)
            carry = torch.baddbmm(direct, flat_recurrent, weight_hh_t)
            if hoisted:
                low_grad_projected_at[step].copy_(grad_projected)
                low_grad_recurrent_at[step].copy_(flat_recurrent)
            else:
                if grad_inputs_at is not None:
                    torch.bmm(grad_projected, weight_ih_t, out=grad_inputs_at[step])
                grad_weight_ih.baddbmm_(inputs_t_at[step], grad_projected)
                grad_weight_hh.baddbmm_(states_t_at[step], flat_recurrent)
            summed += scaled
    if hoisted:
        low_grad_projected = low_grad_projected.view(models, steps * batch, 3 * hidden)
        if ctx.needs_input_grad[0]:
            flat = torch.bmm(low_grad_projected, weight_ih_t.to(inputs.dtype))
            grad_inputs = flat.view(models, steps, batch, -1).transpose(0, 1).to(weight_ih.dtype)
            grad_inputs = grad_inputs.contiguous()
        grad_weight_ih = torch.bmm(inputs.transpose(1, 2), low_grad_projected).to(weight_ih.dtype)
        previous = _model_major(states[:-1], inputs.dtype).transpose(1, 2)
        low_grad_recurrent = low_grad_recurrent.view(models, steps * batch, 3 * hidden)
        grad_weight_hh = torch.bmm(previous, low_grad_recurrent).to(weight_hh.dtype)
    summed = summed.sum(dim=1)
    grad_bias_ih = summed[:, :3].reshape(models, 3 * hidden)
    grad_bias_hh = summed[:, [0, 1, 3]].reshape(models, 3 * hidden)
    return grad_inputs, grad_weight_ih, grad_weight_hh, grad_bias_ih, grad_bias_hh, carry, None, None


@contextlib.contextmanager
def _products_in(precision: str):
    """Let CUDA's float32 products round their inputs to TF32 inside, for ``'tf32'`` only."""
    if precision != "tf32":
        yield
        return
    matmul = torch.backends.cuda.matmul
    name = "fp32_precision" if hasattr(matmul, "fp32_precision") else "allow_tf32"
    previous = getattr(matmul, name)
    setattr(matmul, name, "tf32" if name == "fp32_precision" else True)
    try:
        yield
    finally:
        setattr(matmul, name, previous)


@contextlib.contextmanager
def loop_threads(values: int):
    """torch's threads for a compiled time loop of ``values`` per step: one below
    :data:`PARALLEL_STEP_VALUES`, as many as set from there on; restored afterwards.

    A training step of one network (100 rows x 300) runs on one thread, as the fp32 loop's
    element-wise operations do; a stack of four networks, or a snapshot's 512 rows, on all.
    """
    threads = torch.get_num_threads()
    if threads == 1 or values >= PARALLEL_STEP_VALUES:
        yield
        return
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(threads)


def gru_loop(precision: str, device: str | torch.device) -> str:
    """Which time loop ``precision`` (fp32, bf16 or tf32) runs on ``device``: compiled or pytorch.

    The compiled loops (:mod:`simsvm.engine.fused`) serve the hoisted arrangement on a CPU where
    they could be built; ``fp32`` always runs the PyTorch loop, its arithmetic unchanged.
    """
    if precision != "fp32" and torch.device(device).type == "cpu" and fused_gru_ops() is not None:
        return "compiled"
    return "pytorch"


def _fused_loops(precision: str, inputs: torch.Tensor):
    if inputs.dtype != torch.float32 or gru_loop(precision, inputs.device) != "compiled":
        return None
    return fused_gru_ops()


def _needs_gradients(tensors) -> bool:
    """Whether autograd will ask for gradients of ``tensors``: ``requires_grad`` alone is not it,
    parameters keep it under ``torch.no_grad``."""
    return torch.is_grad_enabled() and any(tensor.requires_grad for tensor in tensors)


def _bias_input(bias_ih: torch.Tensor, bias_hh: torch.Tensor) -> torch.Tensor:
    """The biases added to the input side of each gate, ``(M, 3 hidden)``.

    The reset and update gates add both biases; the candidate keeps ``b_hn`` inside the reset.
    """
    hidden = bias_hh.shape[1] // 3
    return torch.cat((bias_ih[:, : 2 * hidden] + bias_hh[:, : 2 * hidden], bias_ih[:, 2 * hidden :]), 1)


def _model_major(values: torch.Tensor, dtype: torch.dtype) -> torch.Tensor:
    """``values`` ``(time, M, batch, i)`` as ``(M, time * batch, i)`` in ``dtype`` (one copy)."""
    steps, models, batch, width = values.shape
    flat = values.new_empty(models, steps, batch, width, dtype=dtype)
    flat.copy_(values.transpose(0, 1))
    return flat.view(models, steps * batch, width)


def stacked_gru(
    inputs: torch.Tensor,
    weight_ih: torch.Tensor,
    weight_hh: torch.Tensor,
    bias_ih: torch.Tensor,
    bias_hh: torch.Tensor,
    initial: torch.Tensor | None = None,
    *,
    precision: str = "fp32",
) -> torch.Tensor:
    """Outputs of one GRU layer of ``M`` models at every step.

    Parameters
    ----------
    inputs : torch.Tensor, shape (time, M, batch, n_inputs)
    weight_ih : torch.Tensor, shape (M, n_inputs, 3 * hidden)
        Input weights, transposed relative to ``nn.GRU.weight_ih_l0``; gates in the order
        reset, update, new.
    weight_hh : torch.Tensor, shape (M, hidden, 3 * hidden)
    bias_ih, bias_hh : torch.Tensor, shape (M, 3 * hidden)
    initial : torch.Tensor, shape (M, batch, hidden), optional
        State before the first step (zeros by default); carrying it over lets a long sequence
        be read in pieces with the same result.
    precision : {'fp32', 'bf16', 'tf32'}
        How the products compute (see the module's docstring and :func:`product_precision`);
        ``'tf32'`` only arranges them, the caller allows TF32 on its device.

    Returns
    -------
    torch.Tensor, shape (time, M, batch, hidden)
    """
    if precision not in _PRODUCT_PRECISIONS:
        raise ParameterError(f"precision must be one of {_PRODUCT_PRECISIONS}, got {precision!r}")
    _, models, batch, _ = inputs.shape
    if initial is None:
        initial = inputs.new_zeros(models, batch, weight_hh.shape[1])
    tensors = (inputs, weight_ih, weight_hh, bias_ih, bias_hh, initial)
    return _StackedGRU.apply(*tensors, precision, _needs_gradients(tensors))
