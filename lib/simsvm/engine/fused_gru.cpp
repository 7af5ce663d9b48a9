// The time loop of one GRU layer of M networks, with each step's gate arithmetic in one pass.
//
// Loaded by simsvm/engine/fused.py, which compiles it for the CPU at hand on first use.  It holds
// the loops of simsvm/engine/recurrence.py's hoisted arrangement ('bf16'): the products that need
// no earlier step's result are done outside, once per sequence; here each step is one recurrent
// product (ATen's bmm) and one pass over the step's units that does what a dozen element-wise
// PyTorch operations do there.  The equations, the layouts and the five backward factors are
// those of recurrence.py; tests/test_fused.py compares the two.
//
// Layouts (M models, T steps, B rows, H units):
//   projected, grad_projected, grad_recurrent_all  (M, T, B, 3H), bfloat16 or float32
//   states (T + 1, M, B, H); factors (T, M, B, 5, H); grad_outputs (T, M, B, H)   float32
//   inference: inputs (M, T, B, I) and outputs (M, T, B, H) bfloat16; weight (M, I + H, 4H)
//              bfloat16; state (M, B, H) float32
#include <ATen/ATen.h>
#include <ATen/Parallel.h>
#include <torch/library.h>

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <type_traits>

#if defined(__AVX512F__) && defined(__AVX512BW__) && defined(__AVX512VL__)
#include <immintrin.h>
#define SIMSVM_AVX512 1
#else
#define SIMSVM_AVX512 0
#endif

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

// Both loops take a step's units kBlock at a time, one AVX-512 register of floats,
// written with GCC's vector types so that it is vectorised whatever the compiler's cost model
// says (a CPU without AVX-512 does a block in two or four narrower registers).  A row's last
// block is partial (100 units are six blocks and four units): its loads read zeros past the row's
// end and its stores leave memory there alone.  Where the CPU has AVX-512 (every CPU with
// bfloat16 products does) the loads and stores are masked instructions, and a bfloat16 value is
// widened or rounded by one instruction (a snapshot's step of 512 rows x 100 units on the
// project's AMX Xeon: 173 us, against 239 us with partial blocks copied through full ones).  The
// portable code is for the tests on other CPUs: without AVX512-BF16 a 'bf16' run is float32.
constexpr int64_t kBlock = 16;
using Floats = float __attribute__((vector_size(4 * kBlock)));
using Ints = int32_t __attribute__((vector_size(4 * kBlock)));
using Bits = uint32_t __attribute__((vector_size(4 * kBlock)));
using HalfBits = uint16_t __attribute__((vector_size(2 * kBlock)));

[[gnu::always_inline]] inline Floats broadcast(float value) { return Floats{} + value; }
[[gnu::always_inline]] inline HalfBits round_to_bfloat16(Floats values) {
  Bits bits = reinterpret_cast<Bits>(values);
  bits += 0x7FFFu + ((bits >> 16) & 1u);  // round to nearest even
  return __builtin_convertvector(bits >> 16, HalfBits);
}

#if SIMSVM_AVX512
// The first `count` lanes (count <= kBlock).
[[gnu::always_inline]] inline __mmask16 lanes(int64_t count) {
  return count >= kBlock ? __mmask16(0xFFFF) : __mmask16((1u << count) - 1);
}
[[gnu::always_inline]] inline Floats load(const float* values, int64_t count) {
  return reinterpret_cast<Floats>(_mm512_maskz_loadu_ps(lanes(count), values));
}
[[gnu::always_inline]] inline Floats load(const uint16_t* values, int64_t count) {
  const __m512i wide = _mm512_cvtepu16_epi32(_mm256_maskz_loadu_epi16(lanes(count), values));
  return reinterpret_cast<Floats>(_mm512_slli_epi32(wide, 16));
}
[[gnu::always_inline]] inline void store(Floats values, float* out, int64_t count) {
  _mm512_mask_storeu_ps(out, lanes(count), reinterpret_cast<__m512>(values));
}
[[gnu::always_inline]] inline void store(Floats values, uint16_t* out, int64_t count) {
#if defined(__AVX512BF16__)
  const __m256i half = reinterpret_cast<__m256i>(_mm512_cvtneps_pbh(reinterpret_cast<__m512>(values)));
#else
  const __m256i half = reinterpret_cast<__m256i>(round_to_bfloat16(values));
#endif
  _mm256_mask_storeu_epi16(out, lanes(count), half);
}
#else
// A partial block goes through memcpy of `count` values; a full one is one fixed-size copy.
template <typename vector_t, typename value_t>
[[gnu::always_inline]] inline vector_t load_values(const value_t* values, int64_t count) {
  vector_t out{};
  if (count >= kBlock) {
    std::memcpy(&out, values, sizeof out);
  } else {
    std::memcpy(&out, values, count * sizeof(value_t));
  }
  return out;
}
template <typename vector_t, typename value_t>
[[gnu::always_inline]] inline void store_values(const vector_t& values, value_t* out, int64_t count) {
  if (count >= kBlock) {
    std::memcpy(out, &values, sizeof values);
  } else {
    std::memcpy(out, &values, count * sizeof(value_t));
  }
}
[[gnu::always_inline]] inline Floats load(const float* values, int64_t count) {
  return load_values<Floats>(values, count);
}
[[gnu::always_inline]] inline Floats load(const uint16_t* values, int64_t count) {
  const HalfBits half = load_values<HalfBits>(values, count);
  return reinterpret_cast<Floats>(__builtin_convertvector(half, Bits) << 16);
}
[[gnu::always_inline]] inline void store(Floats values, float* out, int64_t count) { store_values(values, out, count); }
[[gnu::always_inline]] inline void store(Floats values, uint16_t* out, int64_t count) {
  store_values(round_to_bfloat16(values), out, count);
}
#endif

// exp(x) as Cephes' expf computes it (x = n ln 2 + r, |r| <= ln 2 / 2, a degree-6 polynomial in
// r, 2^n from the exponent bits): within 2 ulp; clamped to [-87.3, 88.3], where it saturates.
[[gnu::always_inline]] inline Floats exp_approx(Floats x) {
#if SIMSVM_AVX512
  // NaN first: max and min return their second operand where either is NaN
  x = reinterpret_cast<Floats>(_mm512_min_ps(_mm512_set1_ps(88.3f), _mm512_max_ps(_mm512_set1_ps(-87.3f), x)));
  const Floats n = reinterpret_cast<Floats>(
      _mm512_roundscale_ps(x * 1.44269504088896341f, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC));
  const Ints exponent = __builtin_convertvector(n, Ints);
#else
  x = x < -87.3f ? broadcast(-87.3f) : x;
  x = x > 88.3f ? broadcast(88.3f) : x;
  const Floats scaled = x * 1.44269504088896341f;
  const Ints exponent = __builtin_convertvector(scaled + (scaled < 0.0f ? broadcast(-0.5f) : broadcast(0.5f)), Ints);
  const Floats n = __builtin_convertvector(exponent, Floats);
#endif
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

// `count` units (at most kBlock) of one row of one step: the reset and update gates.  Gate g of
// unit j lies at [g * H + j] in projected, recurrent and bias_input.  `joined`: one product gave
// both sides of the reset and update gates, so projected holds their sums and recurrent only the
// candidate's recurrent side, at [j].
template <bool joined, typename in_t, typename rec_t>
[[gnu::always_inline]] inline void gates_block(int64_t H, int64_t count, const in_t* projected,
                                               const rec_t* recurrent, const float* bias_input, Floats& reset,
                                               Floats& update) {
  const auto in = [count](const auto* values) { return load(values, count); };
  Floats reset_sum = in(projected) + in(bias_input), update_sum = in(projected + H) + in(bias_input + H);
  if constexpr (!joined) {
    reset_sum += in(recurrent);
    update_sum += in(recurrent + H);
  }
  reset = sigmoid(reset_sum);
  update = sigmoid(update_sum);
}

// The same units' new state, and the backward's factors (factor k at [k * H + j]), or (total,
// when not null) the state added to a running sum.  next may be previous: the state is read
// before it is written.
template <bool training, bool joined, typename in_t, typename rec_t>
[[gnu::always_inline]] inline void state_block(int64_t H, int64_t count, Floats reset, Floats update,
                                               const in_t* projected, const rec_t* recurrent,
                                               const float* bias_input, const float* bias_hn,
                                               const float* previous, float* next, rec_t* next_low,
                                               float* factors, float* total) {
  const auto in = [count](const auto* values) { return load(values, count); };
  const auto out = [count](Floats values, auto* to) { store(values, to, count); };
  const Floats recurrent_n = in(joined ? recurrent : recurrent + 2 * H) + in(bias_hn);
  const Floats candidate = tanh_approx(in(projected + 2 * H) + in(bias_input + 2 * H) + reset * recurrent_n);
  const Floats previous_state = in(previous);
  const Floats state = candidate + update * (previous_state - candidate);
  out(state, next);
  if constexpr (std::is_same_v<rec_t, uint16_t>) out(state, next_low);  // the next step's product
  if (total != nullptr) out(in(total) + state, total);
  if constexpr (training) {
    const Floats through_candidate = (1.0f - candidate * candidate) * (1.0f - update);
    out(reset * (1.0f - reset) * recurrent_n * through_candidate, factors);
    out(update * (1.0f - update) * (previous_state - candidate), factors + H);
    out(through_candidate, factors + 2 * H);
    out(through_candidate * reset, factors + 3 * H);
    out(update, factors + 4 * H);
  }
}

// One row (one model's one sequence) of one step.  A block's arithmetic is one long chain
// (sigmoid, then tanh, each an exponential and a division), so the row's gates are computed
// for every block first and its states after: twice as many independent chains for the core
// to overlap.
constexpr int64_t kMaxBlocks = 32;  // rows of up to 512 units take the two passes
template <bool training, bool joined, typename in_t, typename rec_t>
void forward_row(int64_t hidden, const in_t* projected, const rec_t* recurrent, const float* bias_input,
                 const float* bias_hn, const float* previous, float* next, rec_t* next_low, float* factors,
                 float* total) {
  Floats reset[kMaxBlocks], update[kMaxBlocks];
  for (int64_t start = 0; start < hidden; start += kMaxBlocks * kBlock) {
    const int64_t end = std::min(hidden, start + kMaxBlocks * kBlock);
    for (int64_t j = start; j < end; j += kBlock) {
      gates_block<joined>(hidden, hidden - j, projected + j, recurrent + j, bias_input + j,
                          reset[(j - start) / kBlock], update[(j - start) / kBlock]);
    }
    for (int64_t j = start; j < end; j += kBlock) {
      state_block<training, joined>(hidden, hidden - j, reset[(j - start) / kBlock], update[(j - start) / kBlock],
                                    projected + j, recurrent + j, bias_input + j, bias_hn + j, previous + j,
                                    next + j, next_low == nullptr ? nullptr : next_low + j,
                                    training ? factors + j : nullptr, total == nullptr ? nullptr : total + j);
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
        auto row_function =
            training ? forward_row<true, false, in_t, rec_t> : forward_row<false, false, in_t, rec_t>;
        row_function(hidden, projected_data + ((model * steps + step) * batch + within) * 3 * hidden,
                     recurrent_data + row * 3 * hidden, bias_input_data + model * 3 * hidden,
                     bias_hn_data + model * hidden, states_data + (step * rows + row) * hidden,
                     states_data + ((step + 1) * rows + row) * hidden,
                     low_recurrent ? state_low_data + row * hidden : nullptr,
                     training ? factors_data + (step * rows + row) * 5 * hidden : nullptr, nullptr);
      }
    });
  }
}

// Whole sequences without gradients, one chunk of steps of one layer (inference.py's
// read_chunk).  A step is one product, [input, state] in bfloat16 by the layer's joined weight
// (I + H, 4H): the reset and update gates' two sides summed, the candidate's input side and its
// recurrent side, each accumulated in float32 and rounded to bfloat16 once; then the gates' pass.
// Nothing is projected ahead, so a chunk's products never leave the cache.  A row keeps one
// float32 state, updated in place, and each step's state is written once more in bfloat16,
// model-major (M, T, B, H): the next layer's inputs, and this layer's state in the next step's
// product.  When total (M, B, H) is not empty, row b's states of its first valid_steps[b] steps
// are added to it: the last layer's time average needs nothing else.  inputs (M, T, B, I) may
// have any strides but the last (a model's stride is 0 where every model reads the same frames).
void infer_loop(const at::Tensor& inputs, const at::Tensor& weight, const at::Tensor& bias_input,
                const at::Tensor& bias_hn, at::Tensor& state, at::Tensor& outputs, at::Tensor& total,
                const at::Tensor& valid_steps) {
  const int64_t models = outputs.size(0), steps = outputs.size(1), batch = outputs.size(2),
                hidden = outputs.size(3), rows = models * batch, width = inputs.size(3);
  at::Tensor operand = at::empty({models, batch, width + hidden}, weight.options());
  operand.narrow(2, width, hidden).copy_(state);  // the first step's state, rounded to bfloat16
  at::Tensor gates = at::empty({models, batch, 4 * hidden}, weight.options());
  const uint16_t* inputs_data = data<uint16_t>(inputs);
  const int64_t model_stride = inputs.stride(0), step_stride = inputs.stride(1), row_stride = inputs.stride(2);
  uint16_t* operand_data = data<uint16_t>(operand);
  const uint16_t* gates_data = data<uint16_t>(gates);
  const float* bias_input_data = bias_input.data_ptr<float>();
  const float* bias_hn_data = bias_hn.data_ptr<float>();
  float* state_data = state.data_ptr<float>();
  uint16_t* outputs_data = data<uint16_t>(outputs);
  float* total_data = total.numel() > 0 ? total.data_ptr<float>() : nullptr;
  const int64_t* valid_data = valid_steps.data_ptr<int64_t>();
  for (int64_t step = 0; step < steps; ++step) {
    at::parallel_for(0, rows, 64, [&](int64_t begin, int64_t end) {
      for (int64_t row = begin; row < end; ++row) {
        const int64_t model = row / batch, within = row % batch;
        uint16_t* to = operand_data + row * (width + hidden);
        std::memcpy(to, inputs_data + model * model_stride + step * step_stride + within * row_stride,
                    width * sizeof(uint16_t));
        if (step > 0) {
          std::memcpy(to + width, outputs_data + ((model * steps + step - 1) * batch + within) * hidden,
                      hidden * sizeof(uint16_t));
        }
      }
    });
    at::bmm_out(gates, operand, weight);
    at::parallel_for(0, rows, 16, [&](int64_t begin, int64_t end) {
      for (int64_t row = begin; row < end; ++row) {
        const int64_t model = row / batch, within = row % batch;
        const bool summed = total_data != nullptr && step < valid_data[within];
        const uint16_t* row_gates = gates_data + row * 4 * hidden;
        forward_row<false, true, uint16_t, uint16_t>(
            hidden, row_gates, row_gates + 3 * hidden, bias_input_data + model * 3 * hidden,
            bias_hn_data + model * hidden, state_data + row * hidden, state_data + row * hidden,
            outputs_data + ((model * steps + step) * batch + within) * hidden, nullptr,
            summed ? total_data + row * hidden : nullptr);
      }
    });
  }
}

// One row of one step backward: the state's gradient times its five factors, sent where the
// products after the loop (out_t) and the next step's recurrent product (float32) need them,
// kBlock units at a time as forward_row goes.
template <typename out_t>
void backward_row(int64_t hidden, const float* grad_output, const float* carry, const float* factors,
                  out_t* grad_projected, out_t* grad_recurrent_low, float* grad_recurrent, float* direct,
                  float* summed) {
  const int64_t H = hidden;
  for (int64_t j = 0; j < H; j += kBlock) {
    const int64_t count = H - j;
    const auto in = [count](const auto* values) { return load(values, count); };
    const auto out = [count](Floats values, auto* to) { store(values, to, count); };
    const Floats grad_state = in(grad_output + j) + in(carry + j);
    const Floats reset = in(factors + j) * grad_state, update = in(factors + H + j) * grad_state,
                 candidate = in(factors + 2 * H + j) * grad_state,
                 candidate_recurrent = in(factors + 3 * H + j) * grad_state;
    out(in(factors + 4 * H + j) * grad_state, direct + j);
    out(reset, grad_projected + j);
    out(update, grad_projected + H + j);
    out(candidate, grad_projected + 2 * H + j);
    out(reset, grad_recurrent + j);
    out(update, grad_recurrent + H + j);
    out(candidate_recurrent, grad_recurrent + 2 * H + j);
    out(reset, grad_recurrent_low + j);
    out(update, grad_recurrent_low + H + j);
    out(candidate_recurrent, grad_recurrent_low + 2 * H + j);
    out(in(summed + j) + reset, summed + j);
    out(in(summed + H + j) + update, summed + H + j);
    out(in(summed + 2 * H + j) + candidate, summed + 2 * H + j);
    out(in(summed + 3 * H + j) + candidate_recurrent, summed + 3 * H + j);
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

void infer(const at::Tensor& inputs, const at::Tensor& weight, const at::Tensor& bias_input,
           const at::Tensor& bias_hn, at::Tensor state, at::Tensor outputs, at::Tensor total,
           const at::Tensor& valid_steps) {
  check_float(bias_input, "bias_input");
  check_float(bias_hn, "bias_hn");
  check_float(state, "state");
  TORCH_CHECK(inputs.scalar_type() == at::kBFloat16 && inputs.dim() == 4 && inputs.stride(3) == 1,
              "inputs must be a bfloat16 (M, T, B, I) tensor, contiguous in its last dimension");
  TORCH_CHECK(weight.is_contiguous() && weight.scalar_type() == at::kBFloat16 && outputs.is_contiguous() &&
                  outputs.scalar_type() == at::kBFloat16,
              "weight and outputs must be contiguous bfloat16 tensors");
  TORCH_CHECK(weight.size(1) == inputs.size(3) + outputs.size(3) && weight.size(2) == 4 * outputs.size(3),
              "weight must be (M, I + H, 4H)");
  TORCH_CHECK(total.numel() == 0 || (total.scalar_type() == at::kFloat && total.is_contiguous() &&
                                     total.sizes() == state.sizes()),
              "total must be empty or a contiguous float32 tensor shaped like the state");
  TORCH_CHECK(valid_steps.scalar_type() == at::kLong && valid_steps.is_contiguous() &&
                  valid_steps.numel() == outputs.size(2),
              "valid_steps must hold one int64 per row of the batch");
  infer_loop(inputs, weight, bias_input, bias_hn, state, outputs, total, valid_steps);
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
  library.def(
      "infer(Tensor inputs, Tensor weight, Tensor bias_input, Tensor bias_hn, Tensor(a!) state, "
      "Tensor(b!) outputs, Tensor(c!) total, Tensor valid_steps) -> ()");
  library.impl("forward", c10::DispatchKey::CPU, &forward);
  library.impl("infer", c10::DispatchKey::CPU, &infer);
  library.impl("backward", c10::DispatchKey::CPU, &backward);
}
