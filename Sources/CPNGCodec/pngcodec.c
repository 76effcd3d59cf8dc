#include "pngcodec.h"
#include <png.h>
#include <errno.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

// Carries the caller's error buffer into libpng's error callback.
typedef struct {
    char *error;
    size_t capacity;
} codec_context;

static void set_error(char *error, size_t capacity, const char *message) {
    if (error && capacity > 0) {
        strncpy(error, message, capacity - 1);
        error[capacity - 1] = '\0';
    }
}

static void on_error(png_structp png, png_const_charp message) {
    codec_context *context = (codec_context *)png_get_error_ptr(png);
    if (context) set_error(context->error, context->capacity, message);
    png_longjmp(png, 1);
}

static void on_warning(png_structp png, png_const_charp message) {
    (void)png; (void)message; // warnings (e.g. benign ancillary chunk issues) do not stop a read
}

typedef struct {
    const unsigned char *data;
    size_t size;
    size_t offset;
} memory_source;

static void read_from_memory(png_structp png, png_bytep out, png_size_t length) {
    memory_source *source = (memory_source *)png_get_io_ptr(png);
    if (source->size - source->offset < length) png_error(png, "unexpected end of PNG data (truncated)");
    memcpy(out, source->data + source->offset, length);
    source->offset += length;
}

static void read_from_file(png_structp png, png_bytep out, png_size_t length) {
    FILE *file = (FILE *)png_get_io_ptr(png);
    if (fread(out, 1, length, file) != length) {
        png_error(png, ferror(file) ? "read error" : "unexpected end of file (truncated PNG)");
    }
}

// Sets up the expansions that turn any PNG into 8- or 16-bit gray / gray+alpha / RGB / RGBA.
static void configure_expansion(png_structp png, png_infop info) {
    int color_type = png_get_color_type(png, info);
    int bit_depth = png_get_bit_depth(png, info);
    if (color_type == PNG_COLOR_TYPE_PALETTE) png_set_palette_to_rgb(png);
    if (color_type == PNG_COLOR_TYPE_GRAY && bit_depth < 8) png_set_expand_gray_1_2_4_to_8(png);
    if (png_get_valid(png, info, PNG_INFO_tRNS)) png_set_tRNS_to_alpha(png);
    if (bit_depth == 16) {
        const int one = 1;
        if (*(const char *)&one == 1) png_set_swap(png); // PNG is big-endian; deliver native order
    }
    png_set_interlace_handling(png);
    png_read_update_info(png, info);
}

// Reads the whole image. `io` is the I/O pointer for `reader`; `header_only` stops after the header.
static int decode(png_rw_ptr reader, void *io, relief_png_image *out, int header_only,
                  char *error, size_t capacity) {
    memset(out, 0, sizeof(*out));
    codec_context context = {error, capacity};
    unsigned char signature[8];
    png_structp png = png_create_read_struct(PNG_LIBPNG_VER_STRING, &context, on_error, on_warning);
    if (!png) { set_error(error, capacity, "out of memory creating PNG reader"); return -1; }
    png_infop info = png_create_info_struct(png);
    unsigned char *volatile pixels = NULL;
    png_bytep *volatile rows = NULL;
    if (!info) {
        png_destroy_read_struct(&png, NULL, NULL);
        set_error(error, capacity, "out of memory creating PNG info");
        return -1;
    }
    if (setjmp(png_jmpbuf(png))) {
        free(rows);
        free(pixels);
        png_destroy_read_struct(&png, &info, NULL);
        memset(out, 0, sizeof(*out));
        return -1;
    }
    png_set_read_fn(png, io, reader);
    reader(png, signature, sizeof signature);
    if (png_sig_cmp(signature, 0, sizeof signature) != 0) png_error(png, "not a PNG file (bad signature)");
    png_set_sig_bytes(png, sizeof signature);
    // Our images are at most a few thousand pixels a side; refuse absurd headers before allocating.
    png_set_user_limits(png, 1u << 15, 1u << 15);
    png_read_info(png, info);
    configure_expansion(png, info);

    png_uint_32 width = png_get_image_width(png, info);
    png_uint_32 height = png_get_image_height(png, info);
    int channels = png_get_channels(png, info);
    int depth = png_get_bit_depth(png, info);
    if (channels < 1 || channels > 4 || (depth != 8 && depth != 16)) png_error(png, "unsupported PNG layout after expansion");
    out->width = width;
    out->height = height;
    out->channels = (uint32_t)channels;
    out->bit_depth = (uint32_t)depth;
    if (header_only) {
        png_destroy_read_struct(&png, &info, NULL);
        return 0;
    }

    size_t row_bytes = png_get_rowbytes(png, info);
    if (row_bytes != (size_t)width * channels * (depth / 8)) png_error(png, "unexpected PNG row size");
    pixels = (unsigned char *)malloc(row_bytes * height);
    rows = (png_bytep *)malloc(sizeof(png_bytep) * height);
    if (!pixels || !rows) png_error(png, "out of memory for PNG pixels");
    for (png_uint_32 y = 0; y < height; y++) rows[y] = pixels + (size_t)y * row_bytes;
    png_read_image(png, rows);
    png_read_end(png, NULL);

    free(rows);
    out->pixels = pixels;
    png_destroy_read_struct(&png, &info, NULL);
    return 0;
}

int relief_png_read_file(const char *path, relief_png_image *out, char *error, size_t capacity) {
    FILE *file = fopen(path, "rb");
    if (!file) {
        memset(out, 0, sizeof(*out));
        set_error(error, capacity, strerror(errno));
        return -1;
    }
    int status = decode(read_from_file, file, out, 0, error, capacity);
    fclose(file);
    return status;
}

int relief_png_read_info(const char *path, relief_png_image *out, char *error, size_t capacity) {
    FILE *file = fopen(path, "rb");
    if (!file) {
        memset(out, 0, sizeof(*out));
        set_error(error, capacity, strerror(errno));
        return -1;
    }
    int status = decode(read_from_file, file, out, 1, error, capacity);
    fclose(file);
    return status;
}

int relief_png_read_memory(const void *data, size_t size, relief_png_image *out, char *error, size_t capacity) {
    memory_source source = {(const unsigned char *)data, size, 0};
    return decode(read_from_memory, &source, out, 0, error, capacity);
}

void relief_png_free(relief_png_image *image) {
    if (!image) return;
    free(image->pixels);
    image->pixels = NULL;
}

int relief_png_write_file(const char *path, const void *pixels, uint32_t width, uint32_t height,
                          uint32_t channels, uint32_t bit_depth, int compression_level,
                          char *error, size_t capacity) {
    static const int color_types[5] = {0, PNG_COLOR_TYPE_GRAY, PNG_COLOR_TYPE_GRAY_ALPHA,
                                       PNG_COLOR_TYPE_RGB, PNG_COLOR_TYPE_RGB_ALPHA};
    if (channels < 1 || channels > 4) { set_error(error, capacity, "PNG channels must be 1, 2, 3 or 4"); return -1; }
    if (bit_depth != 8 && bit_depth != 16) { set_error(error, capacity, "PNG bit depth must be 8 or 16"); return -1; }
    if (width == 0 || height == 0) { set_error(error, capacity, "PNG must have non-zero width and height"); return -1; }

    FILE *volatile file = fopen(path, "wb");
    if (!file) { set_error(error, capacity, strerror(errno)); return -1; }
    codec_context context = {error, capacity};
    png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, &context, on_error, on_warning);
    png_infop info = png ? png_create_info_struct(png) : NULL;
    png_bytep *volatile rows = NULL;
    if (!png || !info) {
        png_destroy_write_struct(&png, info ? &info : NULL);
        fclose(file);
        remove(path);
        set_error(error, capacity, "out of memory creating PNG writer");
        return -1;
    }
    if (setjmp(png_jmpbuf(png))) {
        free(rows);
        png_destroy_write_struct(&png, &info);
        fclose(file);
        remove(path);
        return -1;
    }
    png_init_io(png, file);
    if (compression_level >= 0 && compression_level <= 9) png_set_compression_level(png, compression_level);
    png_set_IHDR(png, info, width, height, (int)bit_depth, color_types[channels], PNG_INTERLACE_NONE,
                 PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
    png_write_info(png, info);
    if (bit_depth == 16) {
        const int one = 1;
        if (*(const char *)&one == 1) png_set_swap(png);
    }
    size_t row_bytes = (size_t)width * channels * (bit_depth / 8);
    rows = (png_bytep *)malloc(sizeof(png_bytep) * height);
    if (!rows) png_error(png, "out of memory for PNG rows");
    for (uint32_t y = 0; y < height; y++) rows[y] = (png_bytep)pixels + (size_t)y * row_bytes;
    png_write_image(png, rows);
    png_write_end(png, NULL);
    free(rows);
    rows = NULL;
    png_destroy_write_struct(&png, &info);
    // A full disk shows up only when the buffered data is flushed.
    if (fflush(file) != 0 || ferror(file)) {
        set_error(error, capacity, strerror(errno));
        fclose(file);
        remove(path);
        return -1;
    }
    if (fclose(file) != 0) {
        set_error(error, capacity, strerror(errno));
        remove(path);
        return -1;
    }
    return 0;
}
