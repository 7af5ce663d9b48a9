// The time loop of one GRU layer of M networks, with each step's gate arithmetic in one pass.
//
// Loaded by simsvm/model/fused.py, which compiles it for the CPU at hand on first use.  It holds
// the loops of simsvm/model/recurrence.py's hoisted arrangement ('bf16'): the products that need
// no earlier step's result are done outside, once per sequence; here each step is one recurrent
// product (ATen's bmm) and one pass over the step's units that does what a dozen element-wise
// PyTorch operations do there.  The equations, the layouts and the five backward factors are
// those of recurrence.py; tests/test_fused.py compares the two.
//
// Layouts (M models, T steps, B rows, H units):
//   projected, grad_projected, grad_recurrent_all  (M, T, B, 3H), bfloat16 or float32
//   states (T + 1, M, B, H); factors (T, M, B, 5, H); grad_outputs (T, M, B, H)   float32
#include <ATen/ATen.h>
#include <ATen/Parallel.h>
#include <torch/library.h>

#include <cstdint>
#include <cstring>
#include <type_traits>

namespace {

// bfloat16 tensors are handled as their bits (uint16_t): bfloat16 is the upper half of a
// float32, so widening is a shift; narrowing rounds to nearest even, as PyTorch does.
template <typename storage_t>
storage_t* data(const at::Tensor& tensor) {
  if constexpr (std::is_same_v<storage_t, float>) {
    return tensor.data_ptr<float>();
  } else {
    return reinterpret_cast<uint16_t*>(tensor.data_ptr<c10::BFloat16>());
  }
}
inline void narrow(float value, float* out) { *out = value; }
inline void narrow(float value, uint16_t* out) {
  uint32_t bits;
  std::memcpy(&bits, &value, sizeof bits);
  bits += 0x7FFFu + ((bits >> 16) & 1u);
  *out = static_cast<uint16_t>(bits >> 16);
}

// The forward pass takes a step's units kBlock at a time, one AVX-512 register of floats,
// written with GCC's vector types so that it is vectorised whatever the compiler's cost model
// says (a CPU without AVX-512 does a block in two or four narrower registers).  A row's last,
// partial block is copied into a full one: a scalar tail would cost as much as 100 units.
constexpr int64_t kBlock = 16;
using Floats = float __attribute__((vector_size(4 * kBlock)));
using Ints = int32_t __attribute__((vector_size(4 * kBlock)));
using Bits = uint32_t __attribute__((vector_size(4 * kBlock)));
using HalfBits = uint16_t __attribute__((vector_size(2 * kBlock)));

[[gnu::always_inline]] inline Floats load(const float* values) {
  Floats out;
  std::memcpy(&out, values, sizeof out);
  return out;
}
[[gnu::always_inline]] inline Floats load(const uint16_t* values) {
  HalfBits half;
  std::memcpy(&half, values, sizeof half);
  return reinterpret_cast<Floats>(__builtin_convertvector(half, Bits) << 16);
}
[[gnu::always_inline]] inline void store(Floats values, float* out) { std::memcpy(out, &values, sizeof values); }
[[gnu::always_inline]] inline void store(Floats values, uint16_t* out) {
  Bits bits = reinterpret_cast<Bits>(values);
  bits += 0x7FFFu + ((bits >> 16) & 1u);  // round to nearest even
  const HalfBits half = __builtin_convertvector(bits >> 16, HalfBits);
  std::memcpy(out, &half, sizeof half);
}
[[gnu::always_inline]] inline Floats broadcast(float value) { return Floats{} + value; }

// exp(x) as Cephes' expf computes it (x = n ln 2 + r, |r| <= ln 2 / 2, a degree-6 polynomial in
// r, 2^n from the exponent bits): within 2 ulp; clamped to [-87.3, 88.3], where it saturates.
[[gnu::always_inline]] inline Floats exp_approx(Floats x) {
  x = x < -87.3f ? broadcast(-87.3f) : x;
  x = x > 88.3f ? broadcast(88.3f) : x;
  const Floats scaled = x * 1.44269504088896341f;
  const Ints exponent = __builtin_convertvector(scaled + (scaled < 0.0f ? broadcast(-0.5f) : broadcast(0.5f)), Ints);
  const Floats n = __builtin_convertvector(exponent, Floats);
  const Floats r = x - n * 0.693359375f + n * 2.12194440e-4f;
  Floats p = broadcast(1.9875691500e-4f);
  p = p * r + 1.3981999507e-3f;
  p = p * r + 8.3334519073e-3f;
  p = p * r + 4.1665795894e-2f;
  p = p * r + 1.6666665459e-1f;
  p = p * r + 5.0000001201e-1f;
  p = p * r * r + r + 1.0f;
  return p * reinterpret_cast<Floats>((exponent + 127) << 23);
}
[[gnu::always_inline]] inline Floats sigmoid(Floats x) { return 1.0f / (1.0f + exp_approx(-x)); }
// 1 - 2 / (e^2x + 1): absolute error a few 1e-8, which is what the gates' sums see.
[[gnu::always_inline]] inline Floats tanh_approx(Floats x) { return 1.0f - 2.0f / (exp_approx(2.0f * x) + 1.0f); }

// kBlock units of one row of one step: the new state, and the backward's factors.  Gate g of
// unit j lies at [g * stride + j] in projected, recurrent and bias_input, factor k at
// [k * factor_stride + j].
template <bool training, typename in_t, typename rec_t>
[[gnu::always_inline]] inline void forward_block(int64_t stride, int64_t factor_stride, const in_t* projected,
                                                 const rec_t* recurrent, const float* bias_input,
                                                 const float* bias_hn, const float* previous, float* next,
                                                 rec_t* next_low, float* factors) {
  const int64_t S = stride, F = factor_stride;
  const Floats reset = sigmoid(load(projected) + load(bias_input) + load(recurrent));
  const Floats update = sigmoid(load(projected + S) + load(bias_input + S) + load(recurrent + S));
  const Floats recurrent_n = load(recurrent + 2 * S) + load(bias_hn);
  const Floats candidate = tanh_approx(load(projected + 2 * S) + load(bias_input + 2 * S) + reset * recurrent_n);
  const Floats previous_state = load(previous);
  const Floats state = candidate + update * (previous_state - candidate);
  store(state, next);
  if constexpr (std::is_same_v<rec_t, uint16_t>) store(state, next_low);  // the next step's product
  if constexpr (training) {
    const Floats through_candidate = (1.0f - candidate * candidate) * (1.0f - update);
    store(reset * (1.0f - reset) * recurrent_n * through_candidate, factors);
    store(update * (1.0f - update) * (previous_state - candidate), factors + F);
    store(through_candidate, factors + 2 * F);
    store(through_candidate * reset, factors + 3 * F);
    store(update, factors + 4 * F);
  }
}

// One row (one model's one sequence) of one step.
template <bool training, typename in_t, typename rec_t>
void forward_row(int64_t hidden, const in_t* projected, const rec_t* recurrent, const float* bias_input,
                 const float* bias_hn, const float* previous, float* next, rec_t* next_low, float* factors) {
  const int64_t H = hidden, full = H - H % kBlock;
  for (int64_t j = 0; j < full; j += kBlock) {
    forward_block<training>(H, H, projected + j, recurrent + j, bias_input + j, bias_hn + j, previous + j, next + j,
                            next_low == nullptr ? nullptr : next_low + j, training ? factors + j : nullptr);
  }
  if (full == H) return;
  const int64_t tail = H - full;
  in_t tail_projected[3 * kBlock] = {};
  rec_t tail_recurrent[3 * kBlock] = {};
  float tail_bias[3 * kBlock] = {}, tail_bias_hn[kBlock] = {}, tail_previous[kBlock] = {}, tail_next[kBlock],
        tail_factors[5 * kBlock];
  rec_t tail_next_low[kBlock];
  for (int64_t j = 0; j < tail; ++j) {
    for (int64_t gate = 0; gate < 3; ++gate) {
      tail_projected[gate * kBlock + j] = projected[gate * H + full + j];
      tail_recurrent[gate * kBlock + j] = recurrent[gate * H + full + j];
      tail_bias[gate * kBlock + j] = bias_input[gate * H + full + j];
    }
    tail_bias_hn[j] = bias_hn[full + j];
    tail_previous[j] = previous[full + j];
  }
  forward_block<training>(kBlock, kBlock, tail_projected, tail_recurrent, tail_bias, tail_bias_hn, tail_previous,
                          tail_next, tail_next_low, tail_factors);
  for (int64_t j = 0; j < tail; ++j) {
    next[full + j] = tail_next[j];
    if constexpr (std::is_same_v<rec_t, uint16_t>) next_low[full + j] = tail_next_low[j];
    if constexpr (training) {
      for (int64_t slot = 0; slot < 5; ++slot) factors[slot * H + full + j] = tail_factors[slot * kBlock + j];
    }
  }
}

// The time loop forward.  rec_t is the recurrent product's type: float32, or bfloat16 where the
// caller asks for it (recurrence.py: without training, and enough rows for AMX to gain).
template <typename in_t, typename rec_t>
void forward_loop(const at::Tensor& projected, const at::Tensor& bias_input, const at::Tensor& weight_hh,
                  const at::Tensor& bias_hn, at::Tensor& states, at::Tensor& factors) {
  const int64_t steps = states.size(0) - 1, models = states.size(1), batch = states.size(2),
                hidden = states.size(3), rows = models * batch;
  const bool training = factors.numel() > 0;
  constexpr bool low_recurrent = std::is_same_v<rec_t, uint16_t>;
  const at::Tensor weight = low_recurrent ? weight_hh.to(at::kBFloat16) : weight_hh;
  // the state in bfloat16, written by each step for the next step's product
  at::Tensor state_low = low_recurrent ? states[0].to(at::kBFloat16) : at::Tensor();
  rec_t* state_low_data = low_recurrent ? data<rec_t>(state_low) : nullptr;
  at::Tensor recurrent = at::empty({models, batch, 3 * hidden}, weight.options());
  const in_t* projected_data = data<in_t>(projected);
  const float* bias_input_data = bias_input.data_ptr<float>();
  const float* bias_hn_data = bias_hn.data_ptr<float>();
  const rec_t* recurrent_data = data<rec_t>(recurrent);
  float* states_data = states.data_ptr<float>();
  float* factors_data = training ? factors.data_ptr<float>() : nullptr;
  for (int64_t step = 0; step < steps; ++step) {
    at::bmm_out(recurrent, low_recurrent ? state_low : states[step], weight);
    at::parallel_for(0, rows, 16, [&](int64_t begin, int64_t end) {
      for (int64_t row = begin; row < end; ++row) {
        const int64_t model = row / batch, within = row % batch;
        auto row_function = training ? forward_row<true, in_t, rec_t> : forward_row<false, in_t, rec_t>;
        row_function(hidden, projected_data + ((model * steps + step) * batch + within) * 3 * hidden,
                     recurrent_data + row * 3 * hidden, bias_input_data + model * 3 * hidden,
                     bias_hn_data + model * hidden, states_data + (step * rows + row) * hidden,
                     states_data + ((step + 1) * rows + row) * hidden,
                     low_recurrent ? state_low_data + row * hidden : nullptr,
                     training ? factors_data + (step * rows + row) * 5 * hidden : nullptr);
      }
    });
  }
}

// One row of one step backward: the state's gradient times its five factors, sent where the
// products after the loop (out_t) and the next step's recurrent product (float32) need them.
template <typename out_t>
[[gnu::noinline]] void backward_row(int64_t hidden, const float* __restrict__ grad_output, const float* __restrict__ carry,
                  const float* __restrict__ factors, out_t* __restrict__ grad_projected,
                  out_t* __restrict__ grad_recurrent_low, float* __restrict__ grad_recurrent,
                  float* __restrict__ direct, float* __restrict__ summed) {
  const int64_t H = hidden;
  // The rows' arrays never overlap; said so that GCC vectorises the loop.
#pragma GCC ivdep
  for (int64_t j = 0; j < H; ++j) {
    const float grad_state = grad_output[j] + carry[j];
    const float reset = factors[j] * grad_state, update = factors[H + j] * grad_state,
                candidate = factors[2 * H + j] * grad_state, candidate_recurrent = factors[3 * H + j] * grad_state;
    direct[j] = factors[4 * H + j] * grad_state;
    narrow(reset, grad_projected + j);
    narrow(update, grad_projected + H + j);
    narrow(candidate, grad_projected + 2 * H + j);
    grad_recurrent[j] = reset;
    grad_recurrent[H + j] = update;
    grad_recurrent[2 * H + j] = candidate_recurrent;
    narrow(reset, grad_recurrent_low + j);
    narrow(update, grad_recurrent_low + H + j);
    narrow(candidate_recurrent, grad_recurrent_low + 2 * H + j);
    summed[j] += reset;
    summed[H + j] += update;
    summed[2 * H + j] += candidate;
    summed[3 * H + j] += candidate_recurrent;
  }
}

template <typename out_t>
at::Tensor backward_loop(const at::Tensor& grad_outputs, const at::Tensor& factors, const at::Tensor& weight_hh,
                         at::Tensor& grad_projected, at::Tensor& grad_recurrent_all, at::Tensor& summed) {
  const int64_t steps = factors.size(0), models = factors.size(1), batch = factors.size(2),
                hidden = factors.size(4), rows = models * batch;
  at::Tensor carry = at::zeros({models, batch, hidden}, factors.options());
  at::Tensor direct = at::empty_like(carry);
  at::Tensor grad_recurrent = at::empty({models, batch, 3 * hidden}, factors.options());
  const at::Tensor weight_hh_t = weight_hh.transpose(1, 2);
  const float* grad_outputs_data = grad_outputs.data_ptr<float>();
  const float* factors_data = factors.data_ptr<float>();
  out_t* grad_projected_data = data<out_t>(grad_projected);
  out_t* grad_recurrent_all_data = data<out_t>(grad_recurrent_all);
  float* grad_recurrent_data = grad_recurrent.data_ptr<float>();
  float* direct_data = direct.data_ptr<float>();
  float* summed_data = summed.data_ptr<float>();
  for (int64_t step = steps - 1; step >= 0; --step) {
    const float* carry_data = carry.data_ptr<float>();
    at::parallel_for(0, rows, 16, [&](int64_t begin, int64_t end) {
      for (int64_t row = begin; row < end; ++row) {
        const int64_t model = row / batch, within = row % batch;
        const int64_t gathered = ((model * steps + step) * batch + within) * 3 * hidden;
        backward_row(hidden, grad_outputs_data + (step * rows + row) * hidden, carry_data + row * hidden,
                     factors_data + (step * rows + row) * 5 * hidden, grad_projected_data + gathered,
                     grad_recurrent_all_data + gathered, grad_recurrent_data + row * 3 * hidden,
                     direct_data + row * hidden, summed_data + row * 4 * hidden);
      }
    });
    carry = at::baddbmm(direct, grad_recurrent, weight_hh_t);
  }
  return carry;
}

void check_float(const at::Tensor& tensor, const char* name) {
  TORCH_CHECK(tensor.device().is_cpu() && tensor.scalar_type() == at::kFloat && tensor.is_contiguous(), name,
              " must be a contiguous float32 CPU tensor");
}

void forward(const at::Tensor& projected, const at::Tensor& bias_input, const at::Tensor& weight_hh,
             const at::Tensor& bias_hn, at::Tensor states, at::Tensor factors, bool low_recurrent) {
  check_float(bias_input, "bias_input");
  check_float(weight_hh, "weight_hh");
  check_float(bias_hn, "bias_hn");
  check_float(states, "states");
  check_float(factors, "factors");
  TORCH_CHECK(projected.is_contiguous(), "projected must be contiguous");
  TORCH_CHECK(!low_recurrent || (projected.scalar_type() == at::kBFloat16 && factors.numel() == 0),
              "a bfloat16 recurrent product is for bfloat16 runs without training");
  if (low_recurrent) {
    forward_loop<uint16_t, uint16_t>(projected, bias_input, weight_hh, bias_hn, states, factors);
  } else if (projected.scalar_type() == at::kBFloat16) {
    forward_loop<uint16_t, float>(projected, bias_input, weight_hh, bias_hn, states, factors);
  } else {
    check_float(projected, "projected");
    forward_loop<float, float>(projected, bias_input, weight_hh, bias_hn, states, factors);
  }
}

at::Tensor backward(const at::Tensor& grad_outputs, const at::Tensor& factors, const at::Tensor& weight_hh,
                    at::Tensor grad_projected, at::Tensor grad_recurrent_all, at::Tensor summed) {
  check_float(grad_outputs, "grad_outputs");
  check_float(factors, "factors");
  check_float(weight_hh, "weight_hh");
  check_float(summed, "summed");
  TORCH_CHECK(grad_projected.is_contiguous() && grad_recurrent_all.is_contiguous() &&
                  grad_projected.scalar_type() == grad_recurrent_all.scalar_type(),
              "the gathered gradients must be contiguous and of one type");
  if (grad_projected.scalar_type() == at::kBFloat16) {
    return backward_loop<uint16_t>(grad_outputs, factors, weight_hh, grad_projected, grad_recurrent_all, summed);
  }
  check_float(grad_projected, "grad_projected");
  return backward_loop<float>(grad_outputs, factors, weight_hh, grad_projected, grad_recurrent_all, summed);
}

}  // namespace

TORCH_LIBRARY(simsvm_fused_gru, library) {
  library.def(
      "forward(Tensor projected, Tensor bias_input, Tensor weight_hh, Tensor bias_hn, Tensor(a!) states, "
      "Tensor(b!) factors, bool low_recurrent) -> ()");
  library.def(
      "backward(Tensor grad_outputs, Tensor factors, Tensor weight_hh, Tensor(a!) grad_projected, "
      "Tensor(b!) grad_recurrent_all, Tensor(c!) summed) -> Tensor");
  library.impl("forward", c10::DispatchKey::CPU, &forward);
  library.impl("backward", c10::DispatchKey::CPU, &backward);
}
