// Kernels of sampler/backends/cupy_backend.py (compiled by NVRTC with --fmad=false).
//
// The per-pixel maths (RNG, logits, draw) is plain C++ marked PORTABLE, so that the host
// tests compile this very file with g++ and compare it bit for bit with numpy_backend; they
// also run the kernels on the CPU, one thread doing every item, with the CUDA names defined
// by a small shim (tests/test_sampler_cupy_host.py).
//
// Draw of one pixel: the exact definition is numpy_backend.draw on float64 logits (see
// sampler/kernelmath.py and sampler/rng.py). draw_exact repeats it operation for operation
// (no FMA: --fmad=false). gibbs_pixel first runs a float32 version (logits in float32,
// __expf, float32 cumulative sums) together with a rigorous bound on how far its cumulative
// sums can be from the float64 ones; when the uniform's threshold is farther than that bound
// from the two cumulative sums that decide the label, the float32 label IS the float64 label,
// otherwise it runs draw_exact. The result is always the float64 result; the float32 path
// only makes the common case cheap (float64 runs at half the float32 rate at best).

typedef unsigned long long u64;
typedef unsigned char u8;

#ifdef __CUDACC__
#define PORTABLE __device__ __forceinline__
#define COLD __device__ __noinline__  // rare paths: out of line, so they do not raise register use
#ifndef FAST_EXPF
#define FAST_EXPF __expf  // max error 2 + floor(1.173 |x|) ulp (CUDA Math API, intrinsics)
#endif
#else  // host build (tests): g++ -ffp-contract=off; they may inject __expf's worst-case error
#include <cmath>
#define PORTABLE static inline
#define COLD static
#ifndef FAST_EXPF
#define FAST_EXPF expf
#endif
#endif

// --- sampler/rng.py --------------------------------------------------------------------------

PORTABLE u64 mix(u64 z) {
  z += 0x9E3779B97F4A7C15ull;
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

PORTABLE double uniform(u64 base, u64 pixel) {
  return (double)(mix(base ^ pixel) >> 11) * (1.0 / 9007199254740992.0);  // 2**-53
}

// --- sampler/kernelmath.py -------------------------------------------------------------------

PORTABLE double exp_neg(double x) {
  const double y = (x > -64.0 ? x : -64.0) * (1.0 / 256.0);
  double p = 1.0 / 3628800.0;
  p = p * y + 1.0 / 362880.0;
  p = p * y + 1.0 / 40320.0;
  p = p * y + 1.0 / 5040.0;
  p = p * y + 1.0 / 720.0;
  p = p * y + 1.0 / 120.0;
  p = p * y + 1.0 / 24.0;
  p = p * y + 1.0 / 6.0;
  p = p * y + 1.0 / 2.0;
  p = p * y + 1.0;
  p = p * y + 1.0;
  for (int k = 0; k < 8; ++k) p = p * p;
  return p;
}

// --- one pixel -------------------------------------------------------------------------------
// s: the pixel's L scores at stride sstride. lab: the image's (H, W) labels. Tf, Tb: (C, L, Lp)
// tables, Tf[c][j][l] = theta[c][l][j] (neighbour i + d_c has label j), Tb[c][k][l] =
// theta[c][k][l] (neighbour i - d_c has label k), each followed by its (C, L) row maxima
// max_l |row|. off: (C, 2) int offsets (dy >= 0).
// Image-dependent factors (sampler/gating.py): K > 0 tables per class, Tf, Tb (C, K, L, Lp) and
// their maxima (C, K, L); hw: the image's half weights 0.5 * weights, (K, H*W) in pixel order, so
// that edge (i, j) weighs w_k = hw[k][i] + hw[k][j] (a float32 sum) for table k. K = 0: none.

// One neighbour's terms in float64: z[l] += w_k * row_k[l] for each k (the float32 product is
// exact in float64), numpy_backend's order; row points at table k = 0's row, rows K apart.
template <int L>
PORTABLE void add_weighted_exact(double* z, const float* row, long stride, const float* hw, int K, long P,
                                 int p, int q) {
  for (int k = 0; k < K; ++k) {
    const double w = (double)(hw[k * P + p] + hw[k * P + q]);
    for (int l = 0; l < L; ++l) z[l] += w * (double)row[k * stride + l];
  }
}

template <int L>
PORTABLE void logits_exact(double* z, const float* s, long sstride, const u8* lab, int H, int W, int y,
                           int x, const float* Tf, const float* Tb, int Lp, const int* off, int C,
                           const float* hw, int K) {
  for (int l = 0; l < L; ++l) z[l] = (double)s[l * sstride];
  const int Kt = K ? K : 1, p = y * W + x;
  for (int c = 0; c < C; ++c) {  // numpy_backend's order: unary, then per class forward, backward
    const int dy = off[2 * c], dx = off[2 * c + 1];
    if (y + dy < H && x + dx >= 0 && x + dx < W) {
      const int q = (y + dy) * W + x + dx;
      const float* row = Tf + (((long)c * Kt) * L + lab[q]) * Lp;
      if (K) add_weighted_exact<L>(z, row, (long)L * Lp, hw, K, (long)H * W, p, q);
      else for (int l = 0; l < L; ++l) z[l] += (double)row[l];
    }
    if (y - dy >= 0 && x - dx >= 0 && x - dx < W) {
      const int q = (y - dy) * W + x - dx;
      const float* row = Tb + (((long)c * Kt) * L + lab[q]) * Lp;
      if (K) add_weighted_exact<L>(z, row, (long)L * Lp, hw, K, (long)H * W, p, q);
      else for (int l = 0; l < L; ++l) z[l] += (double)row[l];
    }
  }
}

// numpy_backend.draw: first l with cumsum(w) > u * lane_sum(w), w = exp_neg(z - max), else the
// first l of largest weight. Overwrites z with the weights.
template <int L>
PORTABLE int draw_exact(double* z, double u) {
  double top = z[0];
  for (int l = 1; l < L; ++l) top = z[l] > top ? z[l] : top;
  double lane[4] = {0.0, 0.0, 0.0, 0.0};
  for (int l = 0; l < L; ++l) {
    z[l] = exp_neg(z[l] - top);
    lane[l & 3] += z[l];
  }
  const double threshold = u * ((lane[0] + lane[1]) + (lane[2] + lane[3]));
  double acc = 0.0;
  for (int l = 0; l < L; ++l) {
    acc += z[l];
    if (acc > threshold) return l;
  }
  int best = 0;
  for (int l = 1; l < L; ++l) best = z[l] > z[best] ? l : best;
  return best;
}

// numba_backend._improve: the first best label, but the current one unless strictly beaten.
template <int L>
PORTABLE int improve(const double* z, int current) {
  int best = current;
  for (int l = 0; l < L; ++l) best = z[l] > z[best] ? l : best;
  return best;
}

template <int L>
PORTABLE void add_row(float* z, const float* row) {
#ifdef __CUDACC__
  // rows are 16-byte aligned (Lp is a multiple of 4): vector loads, 4 labels at a time
  for (int l = 0; l < L; l += 4) {
    const float4 v = *reinterpret_cast<const float4*>(row + l);
    z[l] += v.x;
    if (l + 1 < L) z[l + 1] += v.y;
    if (l + 2 < L) z[l + 2] += v.z;
    if (l + 3 < L) z[l + 3] += v.w;
  }
#else
  for (int l = 0; l < L; ++l) z[l] += row[l];
#endif
}

// The float32 terms of one neighbour: z[l] += w_k * row_k[l] for each k, and the error sums of
// gibbs_pixel: each product errs by at most 2**-24 of |w_k| max|row_k| (the row's maximum m_k),
// each addition by 2**-24 of a result below smax + R (R += |w_k| m_k first).
template <int L>
PORTABLE void add_weighted_rows(float* z, const float* row, const float* maxima, long stride, const float* hw,
                                int K, long P, int p, int q, float smax, float& R, float& E) {
  for (int k = 0; k < K; ++k) {  // table k's row (its maximum) lies k * stride (k * L) further on
    const float w = hw[k * P + p] + hw[k * P + q], bound = fabsf(w) * maxima[k * L];
    const float* r = row + k * stride;
    for (int l = 0; l < L; ++l) z[l] += w * r[l];
    R += bound;
    E += smax + R + bound;
  }
}

// numpy_backend's logits and draw of one pixel, in float64.
template <int L>
COLD int gibbs_pixel_exact(const float* s, long sstride, const u8* lab, int H, int W, int y, int x,
                           const float* Tf, const float* Tb, int Lp, const int* off, int C, const float* hw, int K,
                           double u) {
  double z[L];
  logits_exact<L>(z, s, sstride, lab, H, W, y, x, Tf, Tb, Lp, off, C, hw, K);
  return draw_exact<L>(z, u);
}

// Sampled label of one pixel: always numpy_backend.draw's on the float64 logits.
// Rf, Rb: the row maxima of Tf, Tb. hw, K: the weights (see above; K = 0: none).
// mode 1: skip the float32 path. *exact is set to 1 when the float64 path ran.
template <int L>
PORTABLE int gibbs_pixel(const float* s, long sstride, const u8* lab, int H, int W, int y, int x,
                         const float* Tf, const float* Tb, const float* Rf, const float* Rb, int Lp,
                         const int* off, int C, const float* hw, int K, double u, int mode, int* exact) {
  if (mode == 0) {
    float z[L];
    float smax = 0.0f;
    for (int l = 0; l < L; ++l) {
      z[l] = s[l * sstride];
      smax = fmaxf(smax, fabsf(z[l]));
    }
    // |z32[l] - z64[l]| <= E: each float32 (float64) addition errs by at most 2**-24 (2**-53) of
    // its result, whose size is at most smax + R (R: the row maxima added so far); E takes twice
    // the sum of those bounds. With weights, the products' errors too (add_weighted_rows).
    const float ulp = 1.1920929e-7f;  // 2**-23
    const int Kt = K ? K : 1, p = y * W + x;
    const long P = (long)H * W;
    float R = 0.0f, E = 0.0f;
    for (int c = 0; c < C; ++c) {
      const int dy = off[2 * c], dx = off[2 * c + 1];
      if (y + dy < H && x + dx >= 0 && x + dx < W) {
        const int q = (y + dy) * W + x + dx;
        const long row = (long)c * Kt * L + lab[q];
        if (K) {
          add_weighted_rows<L>(z, Tf + row * Lp, Rf + row, (long)L * Lp, hw, K, P, p, q, smax, R, E);
        } else {
          add_row<L>(z, Tf + row * Lp);
          R += Rf[row];
          E += smax + R;
        }
      }
      if (y - dy >= 0 && x - dx >= 0 && x - dx < W) {
        const int q = (y - dy) * W + x - dx;
        const long row = (long)c * Kt * L + lab[q];
        if (K) {
          add_weighted_rows<L>(z, Tb + row * Lp, Rb + row, (long)L * Lp, hw, K, P, p, q, smax, R, E);
        } else {
          add_row<L>(z, Tb + row * Lp);
          R += Rb[row];
          E += smax + R;
        }
      }
    }
    E *= ulp;
    float top = z[0];
    for (int l = 1; l < L; ++l) top = fmaxf(top, z[l]);
    // Weight l: exponent off by <= 2E (z and the max) + |d| 2**-24 (rounding of d); __expf errs by
    // <= (2 + 1.173 |d|) ulp; so relative error <= 2E + (3 + 1.673 |d|) 2**-23 (+ 2e-12, exp_neg's).
    // err sums weight * (that bound, rounded up): |sum of float64 weights - sum of float32| <= ~err.
    float S = 0.0f, err = 0.0f;
    for (int l = 0; l < L; ++l) {
      const float d = fmaxf(z[l] - top, -64.0f);
      z[l] = FAST_EXPF(d);
      S += z[l];
      err += z[l] * (2.0f * E + (4.0f - 1.8f * d) * ulp);
    }
    // |cumsum64[l] - cumsum32[l]| <= A for every l, and for the lane sum against S (the float32
    // sums add (l + 1) 2**-24 relative, the float64 ones 2**-53; 1.02 covers expm1(x) / x for the
    // x <= 2E + 119 ulp < 0.0215 that the test below admits).
    const float A = 1.02f * err + (float)(L + 2) * ulp * S;
    const float t = (float)u * S;               // |t64 - t| <= A + 2**-23 S
    const float B = 2.0f * A + 8.0f * ulp * S;  // slack for that and for rounding below
    float acc = 0.0f, lo = 0.0f, hi = 0.0f;
    int pick = -1;
    for (int l = 0; l < L; ++l) {
      const float next = acc + z[l];
      if (pick < 0 && next > t) {
        pick = l;
        lo = acc;
        hi = next;
      }
      acc = next;
    }
    // cumsum64[pick] >= hi - A > t64, and every earlier cumsum64 <= lo + A < t64
    if (2.0f * E < 0.02f && pick >= 0 && hi > t + B && (pick == 0 || lo < t - B)) return pick;
  }
  *exact = 1;
  return gibbs_pixel_exact<L>(s, sstride, lab, H, W, y, x, Tf, Tb, Lp, off, C, hw, K, u);
}

#if defined(__CUDACC__) || defined(EMULATE_KERNELS)  // EMULATE_KERNELS: the host tests' one-thread emulation
// --- kernels -----------------------------------------------------------------------------------
// Shapes: scores (N, L, P) with P = H*W; labels (N, H, W) uint8; tables: (2, C, L, Lp) Tf then Tb,
// then (2, C, L) their row maxima (with weights: (2, C, K, L, Lp), then (2, C, K, L));
// offsets (C, 2) int32; bases (N,) uint64; halves (N, K, P) float32, 0.5 * weights (K = 0: none,
// not read); counter: one int (events, see each kernel).

// Copies the tables into shared memory when they fit (use_smem), else reads them from global.
__device__ const float* stage_tables(float* smem, const float* tables, int count, int use_smem) {
  if (!use_smem) return tables;
  for (int i = threadIdx.x; i < count; i += blockDim.x) smem[i] = tables[i];
  __syncthreads();
  return smem;
}

// One colour of a chromatic sweep, all images: item (n, j) updates pixel order[q0 + j] of
// image n. Scores are in colour-major pixel order (scores[n, l, q] is pixel order[q]) so each
// colour reads a contiguous slice. mode 0/1: sample (counter += pixels that needed float64);
// mode 2: ICM improve (counter += labels changed).
template <int L>
__global__ void gibbs_colour(const float* __restrict__ scores, u8* labels, const float* __restrict__ tables,
                             const int* __restrict__ offsets, const int* __restrict__ order,
                             const u64* __restrict__ bases, const float* __restrict__ halves, int N, int H, int W,
                             int C, int K, int Lp, int q0, int count, int use_smem, int mode, int* counter) {
  extern __shared__ float smem[];
  const int CK = C * (K ? K : 1);
  const float* T = stage_tables(smem, tables, 2 * CK * L * (Lp + 1), use_smem);
  const float* Tb = T + (long)CK * L * Lp;
  const float* Rf = T + 2 * (long)CK * L * Lp;
  const float* Rb = Rf + CK * L;
  const long P = (long)H * W;
  const unsigned items = (unsigned)N * (unsigned)count;  // < 2**31 (checked by the caller): 32-bit division
  int events = 0;
  for (unsigned item = blockIdx.x * blockDim.x + threadIdx.x; item < items; item += gridDim.x * blockDim.x) {
    const unsigned n = item / (unsigned)count;
    const int q = q0 + (int)(item - n * (unsigned)count);
    const int p = order[q], y = p / W, x = p - y * W;
    const float* s = scores + (long)n * L * P + q;
    const float* hw = halves + (long)n * K * P;
    u8* lab = labels + n * P;
    int label;
    if (mode == 2) {
      double z[L];
      logits_exact<L>(z, s, P, lab, H, W, y, x, T, Tb, Lp, offsets, C, hw, K);
      label = improve<L>(z, lab[p]);
      events += label != lab[p];
    } else {
      int exact = 0;
      label = gibbs_pixel<L>(s, P, lab, H, W, y, x, T, Tb, Rf, Rb, Lp, offsets, C, hw, K, uniform(bases[n], (u64)p),
                             mode, &exact);
      events += exact;
    }
    lab[p] = (u8)label;
  }
  if (events) atomicAdd(counter, events);
}

// Raster scan (exact single-site Gibbs): one thread per image, pixels in raster order;
// scores in their natural (N, L, P) order.
template <int L>
__global__ void gibbs_raster(const float* __restrict__ scores, u8* labels, const float* __restrict__ tables,
                             const int* __restrict__ offsets, const u64* __restrict__ bases,
                             const float* __restrict__ halves, int N, int H, int W, int C, int K, int Lp, int mode,
                             int* counter) {
  const int n = blockIdx.x * blockDim.x + threadIdx.x;
  if (n >= N) return;
  const long P = (long)H * W;
  const int CK = C * (K ? K : 1);
  const float* Tb = tables + (long)CK * L * Lp;
  const float* Rf = tables + 2 * (long)CK * L * Lp;
  const float* hw = halves + (long)n * K * P;
  u8* lab = labels + n * P;
  int events = 0;
  for (int p = 0; p < P; ++p) {
    int exact = 0;
    const int y = p / W, x = p - y * W;
    lab[p] = (u8)gibbs_pixel<L>(scores + (long)n * L * P + p, P, lab, H, W, y, x, tables, Tb, Rf, Rf + CK * L,
                                Lp, offsets, C, hw, K, uniform(bases[n], (u64)p), mode, &exact);
    events += exact;
  }
  if (events) atomicAdd(counter, events);
}

// out (N, L, P) float32: log p(y_i = l | neighbours), numba_backend._conditionals' arithmetic.
template <int L>
__global__ void conditionals(const float* __restrict__ scores, const u8* __restrict__ labels,
                             const float* __restrict__ tables, const int* __restrict__ offsets,
                             const float* __restrict__ halves, int N, int H, int W, int C, int K, int Lp,
                             float* out) {
  const long P = (long)H * W;
  const int CK = C * (K ? K : 1);
  for (long item = (long)blockIdx.x * blockDim.x + threadIdx.x; item < (long)N * P;
       item += (long)gridDim.x * blockDim.x) {
    const int n = (int)(item / P), p = (int)(item - n * P), y = p / W, x = p - y * W;
    double z[L];
    logits_exact<L>(z, scores + (long)n * L * P + p, P, labels + n * P, H, W, y, x, tables,
                    tables + (long)CK * L * Lp, Lp, offsets, C, halves + (long)n * K * P, K);
    double top = z[0];
    for (int l = 1; l < L; ++l) top = z[l] > top ? z[l] : top;
    double norm = 0.0;
    for (int l = 0; l < L; ++l) norm += exp(z[l] - top);
    norm = top + log(norm);
    for (int l = 0; l < L; ++l) out[((long)n * L + l) * P + p] = (float)(z[l] - norm);
  }
}

// counts (N, L, P) int32 += one-hot(labels (N, P)).
extern "C" __global__ void count_onehot(int* counts, const u8* __restrict__ labels, int N, int L, long P) {
  for (long item = (long)blockIdx.x * blockDim.x + threadIdx.x; item < (long)N * P;
       item += (long)gridDim.x * blockDim.x) {
    const long n = item / P;
    counts[(n * L + labels[item]) * P + (item - n * P)] += 1;  // one label per (image, pixel)
  }
}

// out (C, L, L) uint64 += counts[c, y_i, y_{i+d_c}] over the edges of N labellings. Per-block
// uint32 histograms in shared memory (use_smem) flushed with one atomic per nonzero bin, or
// atomics straight into global memory when C*L*L bins do not fit.
extern "C" __global__ void pair_counts(const u8* __restrict__ labels, const int* __restrict__ offsets, int N,
                                       int H, int W, int C, int L, u64* out, int use_smem) {
  extern __shared__ unsigned int hist[];
  const int bins = C * L * L;
  if (use_smem) {
    for (int i = threadIdx.x; i < bins; i += blockDim.x) hist[i] = 0u;
    __syncthreads();
  }
  const long P = (long)H * W;
  for (long item = (long)blockIdx.x * blockDim.x + threadIdx.x; item < (long)N * P;
       item += (long)gridDim.x * blockDim.x) {
    const long n = item / P;
    const int p = (int)(item - n * P), y = p / W, x = p - y * W, a = labels[item];
    for (int c = 0; c < C; ++c) {
      const int dy = offsets[2 * c], dx = offsets[2 * c + 1];
      if (y + dy < H && x + dx >= 0 && x + dx < W) {
        const int bin = (c * L + a) * L + labels[n * P + (y + dy) * W + x + dx];
        if (use_smem) atomicAdd(&hist[bin], 1u);
        else atomicAdd(&out[bin], 1ull);
      }
    }
  }
  if (use_smem) {
    __syncthreads();
    for (int i = threadIdx.x; i < bins; i += blockDim.x)
      if (hist[i]) atomicAdd(&out[i], (u64)hist[i]);
  }
}
#endif
