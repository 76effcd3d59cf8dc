#pragma once
#include <stddef.h>
#include <stdint.h>

// libpng reports errors with longjmp, which Swift cannot catch. These functions own the setjmp
// and turn every libpng error (corrupt data, bad CRC, truncated file, I/O failure) into a return
// code of -1 plus a message copied into `error` (NUL-terminated, at most `error_capacity` bytes).
// On success they return 0.

/// A decoded PNG: interleaved samples, rows top to bottom, no padding.
/// `bit_depth` is 8 (uint8_t samples) or 16 (uint16_t samples in native byte order).
/// `channels`: 1 gray, 2 gray+alpha, 3 RGB, 4 RGBA. Palette images become RGB or RGBA
/// (RGBA when the palette has transparency); gray below 8 bits is expanded to 8 bits;
/// a tRNS colour key becomes an alpha channel.
typedef struct {
    uint32_t width;
    uint32_t height;
    uint32_t channels;
    uint32_t bit_depth;
    void *pixels; // malloc'd; release with relief_png_free
} relief_png_image;

/// Decodes the PNG file at `path` into `out` (whose `pixels` is NULL on failure).
int relief_png_read_file(const char *path, relief_png_image *out, char *error, size_t error_capacity);

/// Decodes a PNG held in memory.
int relief_png_read_memory(const void *data, size_t size, relief_png_image *out, char *error, size_t error_capacity);

/// Reads only the header: width, height, and channels/bit depth as `relief_png_read_file` would deliver them.
int relief_png_read_info(const char *path, relief_png_image *out, char *error, size_t error_capacity);

void relief_png_free(relief_png_image *image);

/// Encodes interleaved samples (`bit_depth` 8: uint8_t; 16: uint16_t in native byte order) with
/// `channels` 1..4 (gray, gray+alpha, RGB, RGBA) to `path`. `compression_level` is zlib's 0..9,
/// or -1 for libpng's default. A partially written file is removed on failure.
int relief_png_write_file(const char *path, const void *pixels, uint32_t width, uint32_t height,
                          uint32_t channels, uint32_t bit_depth, int compression_level,
                          char *error, size_t error_capacity);
