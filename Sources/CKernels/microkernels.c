#include "microkernels.h"

#if defined(__x86_64__)
#include <immintrin.h>

int relief_microkernels_available(void) {
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx512f");
}

#define AVX512 __attribute__((target("avx512f,fma")))
#define INLINE static inline __attribute__((always_inline))

// Register tiles: 6 rows × 32 columns (12 accumulators) for rows_times_packed, 6 rows × 64
// columns (24 accumulators) for accumulate_product; both leave zmm registers for the loaded B
// vectors and the broadcast A value, and have more independent accumulators than the FMA
// latency times the FMA units of current cores, so the FMAs never wait on each other.
enum { TILE_ROWS = 6 };

AVX512 INLINE void rows_times_packed_tile(int mr, int depth, float alpha, const float *x, ptrdiff_t ldx,
                                          const float *yt, ptrdiff_t ldyt, float *c, ptrdiff_t ldc) {
    __m512 acc[TILE_ROWS][2];
    for (int r = 0; r < TILE_ROWS; r++) acc[r][0] = acc[r][1] = _mm512_setzero_ps();
    for (int k = 0; k < depth; k++) {
        __m512 b0 = _mm512_loadu_ps(yt + k * ldyt), b1 = _mm512_loadu_ps(yt + k * ldyt + 16);
        for (int r = 0; r < TILE_ROWS; r++) {
            if (r >= mr) break;
            __m512 a = _mm512_set1_ps(x[r * ldx + k]);
            acc[r][0] = _mm512_fmadd_ps(a, b0, acc[r][0]);
            acc[r][1] = _mm512_fmadd_ps(a, b1, acc[r][1]);
        }
    }
    __m512 s = _mm512_set1_ps(alpha);
    for (int r = 0; r < mr; r++) {
        _mm512_storeu_ps(c + r * ldc, _mm512_mul_ps(acc[r][0], s));
        _mm512_storeu_ps(c + r * ldc + 16, _mm512_mul_ps(acc[r][1], s));
    }
}

AVX512 void relief_rows_times_packed(int rows, int cols, int depth, float alpha, const float *x, ptrdiff_t ldx,
                                     const float *yt, ptrdiff_t ldyt, float *c, ptrdiff_t ldc) {
    // Column panels outside: a 32-column panel of Yt (depth × 128 B) stays in L1 while every
    // row of X passes it.
    for (int c0 = 0; c0 < cols; c0 += 32) {
        int r0 = 0;
        for (; r0 + TILE_ROWS <= rows; r0 += TILE_ROWS)
            rows_times_packed_tile(TILE_ROWS, depth, alpha, x + r0 * ldx, ldx, yt + c0, ldyt, c + r0 * ldc + c0, ldc);
        if (r0 < rows)
            rows_times_packed_tile(rows - r0, depth, alpha, x + r0 * ldx, ldx, yt + c0, ldyt, c + r0 * ldc + c0, ldc);
    }
}

// `vectors` (1-4) columns of 16 floats; called with constants so each width compiles to its own
// fully unrolled loop.
AVX512 INLINE void accumulate_tile(int vectors, int mr, int depth, const float *a, ptrdiff_t rs, ptrdiff_t ds,
                                   const float *b, ptrdiff_t ldb, float *c, ptrdiff_t ldc) {
    __m512 acc[TILE_ROWS][4];
    for (int r = 0; r < mr; r++)
        for (int v = 0; v < vectors; v++) acc[r][v] = _mm512_loadu_ps(c + r * ldc + 16 * v);
    for (int k = 0; k < depth; k++) {
        const float *bk = b + k * ldb;
        __m512 bv[4];
        for (int v = 0; v < vectors; v++) bv[v] = _mm512_loadu_ps(bk + 16 * v);
        for (int r = 0; r < TILE_ROWS; r++) {
            if (r >= mr) break;
            __m512 s = _mm512_set1_ps(a[r * rs + k * ds]);
            for (int v = 0; v < vectors; v++) acc[r][v] = _mm512_fmadd_ps(s, bv[v], acc[r][v]);
        }
    }
    for (int r = 0; r < mr; r++)
        for (int v = 0; v < vectors; v++) _mm512_storeu_ps(c + r * ldc + 16 * v, acc[r][v]);
}

AVX512 INLINE void accumulate_rows(int vectors, int m, int depth, const float *a, ptrdiff_t rs, ptrdiff_t ds,
                                   const float *b, ptrdiff_t ldb, float *c, ptrdiff_t ldc) {
    int i0 = 0;
    for (; i0 + TILE_ROWS <= m; i0 += TILE_ROWS)
        accumulate_tile(vectors, TILE_ROWS, depth, a + i0 * rs, rs, ds, b, ldb, c + i0 * ldc, ldc);
    if (i0 < m) accumulate_tile(vectors, m - i0, depth, a + i0 * rs, rs, ds, b, ldb, c + i0 * ldc, ldc);
}

AVX512 void relief_accumulate_product(int m, int width, int depth, const float *a, ptrdiff_t row_stride,
                                      ptrdiff_t depth_stride, const float *b, ptrdiff_t ldb, float *c, ptrdiff_t ldc) {
    for (int c0 = 0; c0 < width; c0 += 64) {
        switch ((width - c0 >= 64 ? 64 : width - c0) / 16) {
        case 4: accumulate_rows(4, m, depth, a, row_stride, depth_stride, b + c0, ldb, c + c0, ldc); break;
        case 3: accumulate_rows(3, m, depth, a, row_stride, depth_stride, b + c0, ldb, c + c0, ldc); break;
        case 2: accumulate_rows(2, m, depth, a, row_stride, depth_stride, b + c0, ldb, c + c0, ldc); break;
        case 1: accumulate_rows(1, m, depth, a, row_stride, depth_stride, b + c0, ldb, c + c0, ldc); break;
        }
    }
}

#else  // not x86-64: never available, never called.

int relief_microkernels_available(void) { return 0; }
void relief_rows_times_packed(int rows, int cols, int depth, float alpha, const float *x, ptrdiff_t ldx,
                              const float *yt, ptrdiff_t ldyt, float *c, ptrdiff_t ldc) {}
void relief_accumulate_product(int m, int width, int depth, const float *a, ptrdiff_t row_stride,
                               ptrdiff_t depth_stride, const float *b, ptrdiff_t ldb, float *c, ptrdiff_t ldc) {}

#endif
