#pragma once
#include <stddef.h>

// AVX-512 micro-kernels for the products inside tiled attention, where one side of every
// product is the head width (typically 64). OpenBLAS re-packs the large operand (a score tile)
// on every call and runs these narrow shapes at 60-85% of its square-matrix speed; these kernels
// read the score tile where it lies. Swift cannot emit 512-bit code for one function of an AVX2
// build, hence C with per-function target attributes. Call only when
// relief_microkernels_available() is non-zero.

/// 1 if this CPU runs the kernels below (x86-64 with AVX-512F), else 0.
int relief_microkernels_available(void);

/// C[rows × cols] = alpha · X[rows × depth] · Yt[depth × cols], with Yt stored row-major
/// (row stride ldyt). Writes columns up to cols rounded up to 32: C's rows and Yt's rows must
/// have room for them (Yt zero there).
void relief_rows_times_packed(int rows, int cols, int depth, float alpha, const float *x, ptrdiff_t ldx,
                              const float *yt, ptrdiff_t ldyt, float *c, ptrdiff_t ldc);

/// C[m × width] += Σ_k A(i, k) · B[k, 0..<width] over k < depth, where A(i, k) is
/// a[i·row_stride + k·depth_stride] (a row-major or a transposed matrix). width % 16 == 0.
/// Each element of C is summed in k order, starting from its current value.
void relief_accumulate_product(int m, int width, int depth, const float *a, ptrdiff_t row_stride,
                               ptrdiff_t depth_stride, const float *b, ptrdiff_t ldb, float *c, ptrdiff_t ldc);
