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

#include <cmath>
#include <cstdint>
#include <cstring>
#include <type_traits>

namespace {

// bfloat16 is the upper half of a float32: widening is a shift, narrowing rounds to nearest even
// (as PyTorch does), written on plain integers so that the compiler vectorises the loops.
inline float widen(float value) { return value; }
inline float widen(uint16_t value) {
  uint32_t bits = static_cast<uint32_t>(value) << 16;
  float out;
  std::memcpy(&out, &bits, sizeof out);
  return out;
}
inline void narrow(float value, float* out) { *out = value; }
inline void narrow(float value, uint16_t* out) {
  uint32_t bits;
  std::memcpy(&bits, &value, sizeof bits);
  bits += 0x7FFFu + ((bits >> 16) & 1u);
  *out = static_cast<uint16_t>(bits >> 16);
}

// exp(x) as Cephes' expf computes it (x = n ln 2 + r, |r| <= ln 2 / 2, a degree-6 polynomial in
// r, 2^n from the exponent bits): within 2 ulp, and written so that the loops below vectorise
// (libm's expf would be a call per element).  Saturates outside [-87.3, 88.3].
inline float exp_approx(float x) {
  // Clamp and round by comparison and conversion: fmin, fmax and floor would not vectorise
  // without -ffast-math's licence to ignore floating-point exceptions.
  x = x < -87.3f ? -87.3f : (x > 88.3f ? 88.3f : x);
  const float scaled = x * 1.44269504088896341f;
  const int32_t exponent = static_cast<int32_t>(scaled + (scaled < 0.0f ? -0.5f : 0.5f));
  const float n = static_cast<float>(exponent);
  const float r = x - n * 0.693359375f + n * 2.12194440e-4f;
  float p = 1.9875691500e-4f;
  p = p * r + 1.3981999507e-3f;
  p = p * r + 8.3334519073e-3f;
  p = p * r + 4.1665795894e-2f;
  p = p * r + 1.6666665459e-1f;
  p = p * r + 5.0000001201e-1f;
  p = p * r * r + r + 1.0f;
  const uint32_t bits = static_cast<uint32_t>(exponent + 127) << 23;
  float scale;
  std::memcpy(&scale, &bits, sizeof scale);
  return p * scale;
}
// bfloat16 tensors are handled as their bits (uint16_t): a struct element would not vectorise.
template <typename storage_t>
storage_t* data(const at::Tensor& tensor) {
  if constexpr (std::is_same_v<storage_t, float>) {
    return tensor.data_ptr<float>();
  } else {
    return reinterpret_cast<uint16_t*>(tensor.data_ptr<c10::BFloat16>());
  }
}

inline float sigmoid(float x) { return 1.0f / (1.0f + exp_approx(-x)); }
// 1 - 2 / (e^2x + 1): absolute error a few 1e-8, which is what the gates' sums see.
inline float tanh_approx(float x) { return 1.0f - 2.0f / (exp_approx(2.0f * x) + 1.0f); }

// One row (one model's one sequence) of one step: the new state, and the backward's factors.
template <bool training, typename in_t>
[[gnu::noinline]] void forward_row(int64_t hidden, const in_t* __restrict__ projected, const float* __restrict__ recurrent,
                 const float* __restrict__ bias_input, const float* __restrict__ bias_hn,
                 const float* __restrict__ previous, float* __restrict__ next, float* __restrict__ factors) {
  const int64_t H = hidden;
  // The rows' arrays never overlap; said so that GCC vectorises the loop.
#pragma GCC ivdep
  for (int64_t j = 0; j < H; ++j) {
    const float reset = sigmoid(widen(projected[j]) + bias_input[j] + recurrent[j]);
    const float update = sigmoid(widen(projected[H + j]) + bias_input[H + j] + recurrent[H + j]);
    const float recurrent_n = recurrent[2 * H + j] + bias_hn[j];
    const float candidate = tanh_approx(widen(projected[2 * H + j]) + bias_input[2 * H + j] + reset * recurrent_n);
    next[j] = candidate + update * (previous[j] - candidate);
    if constexpr (training) {
      const float through_candidate = (1.0f - candidate * candidate) * (1.0f - update);
      factors[j] = reset * (1.0f - reset) * recurrent_n * through_candidate;
      factors[H + j] = update * (1.0f - update) * (previous[j] - candidate);
      factors[2 * H + j] = through_candidate;
      factors[3 * H + j] = through_candidate * reset;
      factors[4 * H + j] = update;
    }
  }
}

template <typename in_t>
void forward_loop(const at::Tensor& projected, const at::Tensor& bias_input, const at::Tensor& weight_hh,
                  const at::Tensor& bias_hn, at::Tensor& states, at::Tensor& factors) {
  const int64_t steps = states.size(0) - 1, models = states.size(1), batch = states.size(2),
                hidden = states.size(3), rows = models * batch;
  const bool training = factors.numel() > 0;
  at::Tensor recurrent = at::empty({models, batch, 3 * hidden}, states.options());
  const in_t* projected_data = data<in_t>(projected);
  const float* bias_input_data = bias_input.data_ptr<float>();
  const float* bias_hn_data = bias_hn.data_ptr<float>();
  const float* recurrent_data = recurrent.data_ptr<float>();
  float* states_data = states.data_ptr<float>();
  float* factors_data = training ? factors.data_ptr<float>() : nullptr;
  for (int64_t step = 0; step < steps; ++step) {
    at::bmm_out(recurrent, states[step], weight_hh);
    at::parallel_for(0, rows, 16, [&](int64_t begin, int64_t end) {
      for (int64_t row = begin; row < end; ++row) {
        const int64_t model = row / batch, within = row % batch;
        auto row_function = training ? forward_row<true, in_t> : forward_row<false, in_t>;
        row_function(hidden, projected_data + ((model * steps + step) * batch + within) * 3 * hidden,
                    recurrent_data + row * 3 * hidden, bias_input_data + model * 3 * hidden,
                    bias_hn_data + model * hidden, states_data + (step * rows + row) * hidden,
                    states_data + ((step + 1) * rows + row) * hidden,
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
             const at::Tensor& bias_hn, at::Tensor states, at::Tensor factors) {
  check_float(bias_input, "bias_input");
  check_float(weight_hh, "weight_hh");
  check_float(bias_hn, "bias_hn");
  check_float(states, "states");
  check_float(factors, "factors");
  TORCH_CHECK(projected.is_contiguous(), "projected must be contiguous");
  if (projected.scalar_type() == at::kBFloat16) {
    forward_loop<uint16_t>(projected, bias_input, weight_hh, bias_hn, states, factors);
  } else {
    check_float(projected, "projected");
    forward_loop<float>(projected, bias_input, weight_hh, bias_hn, states, factors);
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
  library.def("forward(Tensor projected, Tensor bias_input, Tensor weight_hh, Tensor bias_hn, Tensor(a!) states, Tensor(b!) factors) -> ()");
  library.def("backward(Tensor grad_outputs, Tensor factors, Tensor weight_hh, Tensor(a!) grad_projected, Tensor(b!) grad_recurrent_all, Tensor(c!) summed) -> Tensor");
  library.impl("forward", c10::DispatchKey::CPU, &forward);
  library.impl("backward", c10::DispatchKey::CPU, &backward);
}
