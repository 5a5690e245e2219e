// Depthwise convolution on the CPU. im2col would do k*k times the work for one channel, so these
// are direct loops, one (image, channel) plane at a time.
//
// The specialised path (3x3, padding 1, stride 1 or 2) copies each plane into a zero-padded
// scratch buffer laid out so that every one of the nine taps reads a contiguous run at a fixed
// offset from the output position: one flat loop over the whole plane with no bounds checks,
// which GCC vectorises (the loops are compiled for baseline x86-64, AVX2 and AVX-512 and chosen at
// load time, dispatch.h). On the small planes of MobileNet at 64 px (8x8, 4x4) a row-by-row
// interior/border split would leave most outputs on the border and the rows too short to fill a
// vector; the padded flat plane keeps every output on the vector loop.
//   stride 1: the plane padded by one on every side, row length W + 2; output q = oy (W + 2) + ox
//             reads padded[q + ky (W + 2) + kx] (the two positions per row past the plane's
//             width are computed and dropped).
//   stride 2: the padded plane split into its four row/column parity phases, each with row
//             length out_w + 1; output q = oy (out_w + 1) + ox reads phase[ky % 2][kx % 2] at
//             q + (ky / 2) (out_w + 1) + kx / 2.
// Input gradient: at stride 1 it is the forward correlation of the padded output gradient with
// the kernel turned by 180 degrees (a gather: each input pixel sums the outputs that read it); at
// stride 2 each of the four parity classes of input pixels gathers 1, 2, 2 or 4 terms. Both sum in
// the order the scatter loop of the generic path adds them, so the values are the generic path's
// (signed zeros aside). Forward also sums in the generic path's order. Forward and input gradient
// run one (image, channel) plane per task.
// Weight gradient: one channel per task (its sum over the batch is one thread's, in image order).
// The images of a channel are stacked in one padded buffer a few at a time (shared zero rows
// between them), so that planes of a few pixels still give long loops; the nine dot products run
// in kLanes float partial sums (lane j takes positions q = j mod kLanes) that are added into
// float64 lanes chunk by chunk and, at the end, in lane order. Nothing depends on the thread
// count, so neither does the result. It is not the generic path's order (that one sums the whole
// batch in one float); the values agree to rounding.
#include "engine/cpu/depthwise.h"

#include <algorithm>
#include <atomic>
#include <cstring>
#include <vector>

#include <omp.h>

#include "engine/cpu/cpu_backend.h"
#include "engine/cpu/dispatch.h"

namespace sparsecap::cpu {

namespace {

std::atomic<bool> generic_forced{false};

// Below this much work the fork/join costs more than it saves (a gradient check's tiny shapes).
bool parallel_worth_it(const Conv2dShape& s) {
  return s.batch * s.in_channels * s.out_h * s.out_w * s.kernel_h * s.kernel_w > kParallelGrain;
}

// ---- the generic loops: any kernel size, stride and padding ----

template <typename T>
void generic_forward(const T* x, const T* w, T* y, const Conv2dShape& s) {
#pragma omp parallel for collapse(2) schedule(static) if (parallel_worth_it(s))
  for (int64_t n = 0; n < s.batch; ++n)
    for (int64_t c = 0; c < s.in_channels; ++c) {
      const T* plane = x + (n * s.in_channels + c) * s.in_h * s.in_w;
      const T* kernel = w + c * s.kernel_h * s.kernel_w;
      T* dst = y + (n * s.out_channels + c) * s.out_h * s.out_w;
      for (int64_t oy = 0; oy < s.out_h; ++oy)
        for (int64_t ox = 0; ox < s.out_w; ++ox) {
          T total = 0;
          for (int64_t ky = 0; ky < s.kernel_h; ++ky) {
            const int64_t iy = oy * s.stride - s.padding + ky;
            if (iy < 0 || iy >= s.in_h) continue;
            for (int64_t kx = 0; kx < s.kernel_w; ++kx) {
              const int64_t ix = ox * s.stride - s.padding + kx;
              if (ix >= 0 && ix < s.in_w) total += plane[iy * s.in_w + ix] * kernel[ky * s.kernel_w + kx];
            }
          }
          dst[oy * s.out_w + ox] = total;
        }
    }
}

// Input and weight gradients accumulated (into zeroed dx / dw) per channel: each channel's weight
// gradient is owned by one iteration, so the sum over the batch is race-free and in a fixed order.
template <typename T>
void generic_backward(const T* dy, const T* x, const T* w, T* dx, T* dw, const Conv2dShape& s) {
#pragma omp parallel for schedule(static) if (parallel_worth_it(s))
  for (int64_t c = 0; c < s.in_channels; ++c) {
    const T* kernel = w ? w + c * s.kernel_h * s.kernel_w : nullptr;
    T* kernel_grad = dw ? dw + c * s.kernel_h * s.kernel_w : nullptr;
    for (int64_t n = 0; n < s.batch; ++n) {
      // x is null when only the input gradient is wanted (offsetting a null pointer is undefined).
      const T* plane = x ? x + (n * s.in_channels + c) * s.in_h * s.in_w : nullptr;
      T* plane_grad = dx ? dx + (n * s.in_channels + c) * s.in_h * s.in_w : nullptr;
      const T* grad = dy + (n * s.out_channels + c) * s.out_h * s.out_w;
      for (int64_t oy = 0; oy < s.out_h; ++oy)
        for (int64_t ox = 0; ox < s.out_w; ++ox) {
          const T g = grad[oy * s.out_w + ox];
          for (int64_t ky = 0; ky < s.kernel_h; ++ky) {
            const int64_t iy = oy * s.stride - s.padding + ky;
            if (iy < 0 || iy >= s.in_h) continue;
            for (int64_t kx = 0; kx < s.kernel_w; ++kx) {
              const int64_t ix = ox * s.stride - s.padding + kx;
              if (ix < 0 || ix >= s.in_w) continue;
              if (plane_grad) plane_grad[iy * s.in_w + ix] += g * kernel[ky * s.kernel_w + kx];
              if (kernel_grad) kernel_grad[ky * s.kernel_w + kx] += g * plane[iy * s.in_w + ix];
            }
          }
        }
    }
  }
}

// ---- the 3x3, padding 1, stride 1 or 2 path ----

constexpr int64_t kLanes = 8;

// kLanes values of T as one GCC vector (each clone splits it into the registers it has).
template <typename T>
using Lanes [[gnu::vector_size(kLanes * sizeof(T))]] = T;

int64_t round_up(int64_t n, int64_t multiple) { return (n + multiple - 1) / multiple * multiple; }

// dst[0, n) = src[0, n): fixed-size copies compile to vector moves inside the caller's clone (a
// memcpy call per row costs more than the row itself on an 8-pixel plane).
template <typename T>
[[gnu::always_inline]] inline void copy_run(T* __restrict dst, const T* __restrict src, int64_t n) {
  static_assert(kLanes == 8);
  int64_t j = 0;
  for (; j + kLanes <= n; j += kLanes) std::memcpy(dst + j, src + j, sizeof(T) * kLanes);
  // The rest in fixed sizes too (a loop here would become a memmove call).
  const int64_t rest = n - j;
  if (rest & 4) std::memcpy(dst + j, src + j, sizeof(T) * 4), j += 4;
  if (rest & 2) std::memcpy(dst + j, src + j, sizeof(T) * 2), j += 2;
  if (rest & 1) dst[j] = src[j];
}

// Where the padded copies of `images` planes of one channel live, stacked top to bottom, and where
// each tap reads them (see the file comment). Stacked planes share their zero rows: output row
// oy of image k is flat row k * image_rows + oy, and the rows in between (one per image) are
// computed and dropped like the columns past out_w.
struct PaddedLayout {
  int64_t stride = 1, in_h = 0, in_w = 0, out_h = 0, out_w = 0, images = 1;
  int64_t row = 0;          // row length of the padded plane (stride 1) or of each phase (stride 2)
  int64_t image_rows = 0;   // flat rows from one image to the next
  int64_t flat = 0;         // the flat loop's length: up to the last image's last output row
  int64_t flat_padded = 0;  // flat rounded up to kLanes (the weight gradient's dot products)
  int64_t plane = 0;        // elements of the padded stack / of each phase, zeros included
  int64_t phases = 1;
  int64_t tap_phase[9] = {}, tap_offset[9] = {};

  PaddedLayout(const Conv2dShape& s, int64_t stacked)
      : stride(s.stride), in_h(s.in_h), in_w(s.in_w), out_h(s.out_h), out_w(s.out_w), images(stacked) {
    row = stride == 1 ? in_w + 2 : out_w + 1;
    image_rows = out_h + 1;
    flat = ((images - 1) * image_rows + out_h) * row;
    flat_padded = round_up(flat, kLanes);
    phases = stride == 1 ? 1 : 4;
    for (int64_t ky = 0; ky < 3; ++ky)
      for (int64_t kx = 0; kx < 3; ++kx) {
        const int64_t t = ky * 3 + kx;
        tap_phase[t] = stride == 1 ? 0 : (ky % 2) * 2 + kx % 2;
        tap_offset[t] = stride == 1 ? ky * row + kx : (ky / 2) * row + kx / 2;
      }
    // The furthest read is the last padded position plus the largest tap offset.
    plane = flat_padded + tap_offset[8];
  }

  // Copies input plane `src` into stack slot `image` of the padded buffer(s) (`phases` x `plane`
  // elements). Positions that fall in the padding are never written, so they stay the zeros the
  // buffer was created with.
  template <typename T>
  [[gnu::always_inline]] void load(const T* src, T* padded, int64_t image) const {
    padded += image * image_rows * row;
    if (stride == 1) {
      for (int64_t i = 0; i < in_h; ++i) copy_run(padded + (i + 1) * row + 1, src + i * in_w, in_w);
      return;
    }
    // Phase (rp, cp) holds padded[2i + rp][2j + cp] = src[2i + rp - 1][2j + cp - 1]: input row r
    // goes to phase row i = (r + 1) / 2 of the phases rp = (r + 1) % 2, its even columns 2j to
    // cp = 1 at j, its odd columns 2j + 1 to cp = 0 at j + 1 (cp = 0, j = 0 is the left padding).
    const int64_t pairs = in_w / 2;
    for (int64_t r = 0; r < in_h; ++r) {
      const int64_t i = (r + 1) / 2, rp = (r + 1) % 2;
      const T* __restrict line = src + r * in_w;
      T* __restrict odd = padded + (rp * 2) * plane + i * row + 1;
      T* __restrict even = padded + (rp * 2 + 1) * plane + i * row;
      for (int64_t j = 0; j < pairs; ++j) {
        even[j] = line[2 * j];
        odd[j] = line[2 * j + 1];
      }
      if (in_w % 2) even[pairs] = line[2 * pairs];
    }
  }

  // Copies stack slot `image` of a flat result (row length `row`) into a dense out_h x out_w plane.
  template <typename T>
  [[gnu::always_inline]] void store(const T* flat_out, T* dst, int64_t image) const {
    flat_out += image * image_rows * row;
    for (int64_t oy = 0; oy < out_h; ++oy) copy_run(dst + oy * out_w, flat_out + oy * row, out_w);
  }

  // The inverse of store: a dense out_h x out_w plane into stack slot `image` of a flat buffer.
  template <typename T>
  [[gnu::always_inline]] void scatter(const T* src, T* flat_buffer, int64_t image) const {
    flat_buffer += image * image_rows * row;
    for (int64_t oy = 0; oy < out_h; ++oy) copy_run(flat_buffer + oy * row, src + oy * out_w, out_w);
  }

  template <typename T>
  void taps(const T* padded, const T* (&tap)[9]) const {
    for (int t = 0; t < 9; ++t) tap[t] = padded + tap_phase[t] * plane + tap_offset[t];
  }
};

// out[q] = sum over t = 3 ky + kx of tap[t][q] * w[t], for q in [0, n), summed in t order.
template <typename T>
[[gnu::always_inline]] inline void nine_taps(const T* const* tap, const T* w, T* __restrict out, int64_t n) {
  const T *t0 = tap[0], *t1 = tap[1], *t2 = tap[2], *t3 = tap[3], *t4 = tap[4], *t5 = tap[5], *t6 = tap[6],
          *t7 = tap[7], *t8 = tap[8];
  const T w0 = w[0], w1 = w[1], w2 = w[2], w3 = w[3], w4 = w[4], w5 = w[5], w6 = w[6], w7 = w[7], w8 = w[8];
#pragma omp simd  // the taps and `out` do not overlap
  for (int64_t q = 0; q < n; ++q) {
    T total = t0[q] * w0;
    total += t1[q] * w1;
    total += t2[q] * w2;
    total += t3[q] * w3;
    total += t4[q] * w4;
    total += t5[q] * w5;
    total += t6[q] * w6;
    total += t7[q] * w7;
    total += t8[q] * w8;
    out[q] = total;
  }
}

// One plane of the forward correlation (or, with the kernel turned, of the stride-1 input
// gradient): pad, nine-tap loop, copy out.
template <typename T>
SPARSECAP_VECTOR_CLONES void correlate_plane(const PaddedLayout& layout, const T* src, const T* w, T* padded,
                                             T* flat_out, T* dst) {
  layout.load(src, padded, 0);
  const T* tap[9];
  layout.taps(padded, tap);
  nine_taps(tap, w, flat_out, layout.flat);
  layout.store(flat_out, dst, 0);
}

// Stride-2 input gradient of one plane. `padded` gets the output gradient with one zero row and
// column added (row length out_w + 1); dx row 2a gathers output row a, dx row 2a + 1 output rows a
// and a + 1, and within a row, even columns gather one output column and odd columns two: 1, 2, 2
// or 4 terms, added in the order of the generic scatter loop (increasing oy, then ox).
template <typename T>
SPARSECAP_VECTOR_CLONES void stride2_input_gradient_plane(const T* dy, const T* w, T* padded, T* __restrict dx,
                                                          int64_t in_h, int64_t in_w, int64_t out_h, int64_t out_w) {
  const int64_t row = out_w + 1;
  for (int64_t oy = 0; oy < out_h; ++oy) copy_run(padded + oy * row, dy + oy * out_w, out_w);
  const T w0 = w[0], w1 = w[1], w2 = w[2], w3 = w[3], w4 = w[4], w5 = w[5], w6 = w[6], w7 = w[7], w8 = w[8];
  const int64_t pairs = in_w / 2;
  for (int64_t a = 0; a < out_h; ++a) {
    const T* d0 = padded + a * row;  // output row a
    const T* d1 = d0 + row;          // output row a + 1 (zeros past the last)
    T* even = dx + 2 * a * in_w;
    for (int64_t b = 0; b < pairs; ++b) {
      even[2 * b] = d0[b] * w4;
      even[2 * b + 1] = d0[b] * w5 + d0[b + 1] * w3;
    }
    if (in_w % 2) even[in_w - 1] = d0[pairs] * w4;
    if (2 * a + 1 >= in_h) continue;
    T* odd = even + in_w;
    for (int64_t b = 0; b < pairs; ++b) {
      odd[2 * b] = d0[b] * w7 + d1[b] * w1;
      T total = d0[b] * w8;
      total += d0[b + 1] * w6;
      total += d1[b] * w2;
      total += d1[b + 1] * w0;
      odd[2 * b + 1] = total;
    }
    if (in_w % 2) odd[in_w - 1] = d0[pairs] * w7 + d1[pairs] * w1;
  }
}

// The weight gradient of one channel. The batch goes through in chunks of layout.images images
// stacked in one padded buffer, so a plane of a few pixels still makes a long loop. For each
// chunk in image order: the nine dot products of the output gradient (zero at the dropped
// positions) with the padded input at the tap offsets, each as kLanes partial sums (lane j takes
// flat positions q = j mod kLanes, in increasing q) added into kLanes float64 sums; at the end each
// tap's lanes are added in lane order. The lanes fix the order whatever the vector width of the
// clone, the chunks depend on the shape only and a channel is one task, so the result does not
// depend on the thread count.
template <typename T>
SPARSECAP_VECTOR_CLONES void weight_gradient_channel(const PaddedLayout& layout, const T* x, const T* dy, int64_t batch,
                                                     int64_t x_image_stride, int64_t dy_image_stride, T* padded,
                                                     T* grad, double* sums) {
  const T* tap[9];
  layout.taps(padded, tap);
  const int64_t in_plane = layout.in_h * layout.in_w, out_plane = layout.out_h * layout.out_w;
  Lanes<double> total[9] = {};
  for (int64_t first = 0; first < batch; first += layout.images) {
    const int64_t count = std::min(layout.images, batch - first);
    for (int64_t k = 0; k < count; ++k) {
      const int64_t image = first + k;
      if (image + 1 < batch) {  // the next image's planes, one image stride away
        for (int64_t i = 0; i < in_plane; i += 64 / static_cast<int64_t>(sizeof(T)))
          __builtin_prefetch(x + (image + 1) * x_image_stride + i);
        for (int64_t i = 0; i < out_plane; i += 64 / static_cast<int64_t>(sizeof(T)))
          __builtin_prefetch(dy + (image + 1) * dy_image_stride + i);
      }
      layout.load(x + image * x_image_stride, padded, k);
      layout.scatter(dy + image * dy_image_stride, grad, k);
    }
    // A short last chunk: the gradient of the unused slots is zero, so their stale inputs add 0.
    if (count < layout.images)
      std::fill(grad + count * layout.image_rows * layout.row, grad + layout.flat_padded, T(0));
    Lanes<T> sum[9] = {};
    for (int64_t q = 0; q < layout.flat_padded; q += kLanes) {
      Lanes<T> g;  // memcpy: unaligned loads
      std::memcpy(&g, grad + q, sizeof(g));
#pragma GCC unroll 9
      for (int t = 0; t < 9; ++t) {
        Lanes<T> v;
        std::memcpy(&v, tap[t] + q, sizeof(v));
        sum[t] += g * v;
      }
    }
#pragma GCC unroll 9
    for (int t = 0; t < 9; ++t) total[t] += __builtin_convertvector(sum[t], Lanes<double>);
  }
  for (int t = 0; t < 9; ++t) {
    double lanes_total = 0;
    for (int64_t j = 0; j < kLanes; ++j) lanes_total += total[t][j];
    sums[t] = lanes_total;
  }
}

// Images stacked per chunk: about kStackElements padded elements, whatever the plane size.
constexpr int64_t kStackElements = 4096;

int64_t images_per_stack(const Conv2dShape& s) {
  const PaddedLayout one(s, 1);
  return std::clamp<int64_t>(kStackElements / (one.image_rows * one.row), 1, s.batch);
}

template <typename T>
void fast_forward(const T* x, const T* w, T* y, const Conv2dShape& s) {
  const PaddedLayout layout(s, 1);
  const int64_t planes = s.batch * s.in_channels;
#pragma omp parallel if (parallel_worth_it(s))
  {
    std::vector<T> padded(static_cast<size_t>(layout.phases * layout.plane), T(0));
    std::vector<T> flat_out(static_cast<size_t>(layout.flat));
#pragma omp for schedule(static)
    for (int64_t p = 0; p < planes; ++p)
      correlate_plane<T>(layout, x + p * s.in_h * s.in_w, w + (p % s.in_channels) * 9, padded.data(), flat_out.data(),
                         y + p * s.out_h * s.out_w);
  }
}

template <typename T>
void fast_backward_input(const T* dy, const T* w, T* dx, const Conv2dShape& s) {
  const int64_t planes = s.batch * s.in_channels;
  if (s.stride == 1) {
    // The forward correlation of the padded gradient with the kernel turned by 180 degrees; the
    // layout maps out_h x out_w to in_h x in_w, which at stride 1 are the same.
    const PaddedLayout layout(s, 1);
#pragma omp parallel if (parallel_worth_it(s))
    {
      std::vector<T> padded(static_cast<size_t>(layout.plane), T(0));
      std::vector<T> flat_out(static_cast<size_t>(layout.flat));
#pragma omp for schedule(static)
      for (int64_t p = 0; p < planes; ++p) {
        const T* kernel = w + (p % s.in_channels) * 9;
        const T turned[9] = {kernel[8], kernel[7], kernel[6], kernel[5], kernel[4],
                             kernel[3], kernel[2], kernel[1], kernel[0]};
        correlate_plane<T>(layout, dy + p * s.out_h * s.out_w, turned, padded.data(), flat_out.data(),
                           dx + p * s.in_h * s.in_w);
      }
    }
    return;
  }
#pragma omp parallel if (parallel_worth_it(s))
  {
    std::vector<T> padded(static_cast<size_t>((s.out_h + 1) * (s.out_w + 1)), T(0));
#pragma omp for schedule(static)
    for (int64_t p = 0; p < planes; ++p)
      stride2_input_gradient_plane<T>(dy + p * s.out_h * s.out_w, w + (p % s.in_channels) * 9, padded.data(),
                                      dx + p * s.in_h * s.in_w, s.in_h, s.in_w, s.out_h, s.out_w);
  }
}

// One task per channel (its batch sum is one thread's, in image order): with fewer channels than
// threads some threads idle, which MobileNet's 16+ channels on a few cores do not hit.
template <typename T>
void fast_backward_weight(const T* dy, const T* x, T* dw, const Conv2dShape& s) {
  const PaddedLayout layout(s, images_per_stack(s));
#pragma omp parallel if (parallel_worth_it(s))
  {
    std::vector<T> padded(static_cast<size_t>(layout.phases * layout.plane), T(0));
    std::vector<T> grad(static_cast<size_t>(layout.flat_padded), T(0));
#pragma omp for schedule(static)
    for (int64_t c = 0; c < s.in_channels; ++c) {
      double sums[9];
      weight_gradient_channel<T>(layout, x + c * s.in_h * s.in_w, dy + c * s.out_h * s.out_w, s.batch,
                                 s.in_channels * s.in_h * s.in_w, s.out_channels * s.out_h * s.out_w, padded.data(),
                                 grad.data(), sums);
      for (int t = 0; t < 9; ++t) dw[c * 9 + t] = static_cast<T>(sums[t]);
    }
  }
}

bool take_fast_path(const Conv2dShape& s) {
  return depthwise_has_fast_path(s) && !generic_forced.load(std::memory_order_relaxed);
}

}  // namespace

bool is_depthwise(const Conv2dShape& s) {
  return s.groups == s.in_channels && s.groups == s.out_channels && s.groups > 1;
}

bool depthwise_has_fast_path(const Conv2dShape& s) {
  return is_depthwise(s) && s.kernel_h == 3 && s.kernel_w == 3 && s.padding == 1 && (s.stride == 1 || s.stride == 2) &&
         s.out_h == (s.in_h - 1) / s.stride + 1 && s.out_w == (s.in_w - 1) / s.stride + 1;
}

void depthwise_force_generic(bool force) { generic_forced.store(force, std::memory_order_relaxed); }

template <typename T>
void depthwise_forward(const T* x, const T* w, T* y, const Conv2dShape& s) {
  if (take_fast_path(s)) return fast_forward(x, w, y, s);
  generic_forward(x, w, y, s);
}

template <typename T>
void depthwise_backward_input(const T* dy, const T* w, T* dx, const Conv2dShape& s) {
  if (take_fast_path(s)) return fast_backward_input(dy, w, dx, s);
  std::fill(dx, dx + s.batch * s.in_channels * s.in_h * s.in_w, T(0));
  generic_backward<T>(dy, nullptr, w, dx, nullptr, s);
}

template <typename T>
void depthwise_backward_weight(const T* dy, const T* x, T* dw, const Conv2dShape& s) {
  if (take_fast_path(s)) return fast_backward_weight(dy, x, dw, s);
  std::fill(dw, dw + s.in_channels * s.kernel_h * s.kernel_w, T(0));
  generic_backward<T>(dy, x, nullptr, nullptr, dw, s);
}

template void depthwise_forward<float>(const float*, const float*, float*, const Conv2dShape&);
template void depthwise_forward<double>(const double*, const double*, double*, const Conv2dShape&);
template void depthwise_backward_input<float>(const float*, const float*, float*, const Conv2dShape&);
template void depthwise_backward_input<double>(const double*, const double*, double*, const Conv2dShape&);
template void depthwise_backward_weight<float>(const float*, const float*, float*, const Conv2dShape&);
template void depthwise_backward_weight<double>(const double*, const double*, double*, const Conv2dShape&);

}  // namespace sparsecap::cpu
