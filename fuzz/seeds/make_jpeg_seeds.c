/* Writes the JPEG seeds of fuzz/corpus/image/ with libjpeg (stb_image_write has no progressive mode):
 *   cc fuzz/seeds/make_jpeg_seeds.c -ljpeg -o /tmp/make_jpeg_seeds && /tmp/make_jpeg_seeds fuzz/corpus/image */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jpeglib.h>

static void write_jpeg(const char* dir, const char* name, int width, int height, int components, int progressive,
                       int restart_rows, int h_samp, int v_samp, int quality) {
  char path[1024];
  snprintf(path, sizeof path, "%s/%s", dir, name);
  FILE* out = fopen(path, "wb");
  if (!out) {
    perror(path);
    exit(1);
  }
  struct jpeg_compress_struct c;
  struct jpeg_error_mgr err;
  c.err = jpeg_std_error(&err);
  jpeg_create_compress(&c);
  jpeg_stdio_dest(&c, out);
  c.image_width = (JDIMENSION)width;
  c.image_height = (JDIMENSION)height;
  c.input_components = components;
  c.in_color_space = components == 1 ? JCS_GRAYSCALE : JCS_RGB;
  jpeg_set_defaults(&c);
  jpeg_set_quality(&c, quality, TRUE);
  if (components == 3) {
    c.comp_info[0].h_samp_factor = h_samp;
    c.comp_info[0].v_samp_factor = v_samp;
  }
  if (progressive) jpeg_simple_progression(&c);
  c.restart_in_rows = restart_rows;
  jpeg_start_compress(&c, TRUE);
  unsigned char* row = malloc((size_t)width * (size_t)components);
  for (int y = 0; y < height; ++y) {
    for (int x = 0; x < width; ++x) {
      for (int k = 0; k < components; ++k) row[x * components + k] = (unsigned char)((x * 37 + y * 53 + k * 90) & 0xFF);
    }
    JSAMPROW rows[1] = {row};
    jpeg_write_scanlines(&c, rows, 1);
  }
  jpeg_finish_compress(&c);
  jpeg_destroy_compress(&c);
  free(row);
  fclose(out);
}

int main(int argc, char** argv) {
  const char* dir = argc > 1 ? argv[1] : ".";
  write_jpeg(dir, "jpeg_baseline_420_16x16.jpg", 16, 16, 3, 0, 0, 2, 2, 75);
  write_jpeg(dir, "jpeg_baseline_444_5x3.jpg", 5, 3, 3, 0, 0, 1, 1, 90);
  write_jpeg(dir, "jpeg_baseline_422_restart_17x9.jpg", 17, 9, 3, 0, 1, 2, 1, 50);
  write_jpeg(dir, "jpeg_gray_7x7.jpg", 7, 7, 1, 0, 0, 1, 1, 80);
  write_jpeg(dir, "jpeg_progressive_420_16x16.jpg", 16, 16, 3, 1, 0, 2, 2, 75);
  write_jpeg(dir, "jpeg_progressive_gray_9x4.jpg", 9, 4, 1, 1, 0, 1, 1, 60);
  return 0;
}
