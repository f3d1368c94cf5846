/* The stb_image implementation for the fuzz build (CLIPMATCH_FUZZ_INSTRUMENT_STB=ON): the same source as
 * Debian's libstb (the system header is the implementation), compiled here with the sanitizers and
 * libFuzzer's coverage instrumentation so that the decoder behind clipmatch::decode_image_memory is fuzzed
 * with feedback and checked by AddressSanitizer. */
#define STB_IMAGE_IMPLEMENTATION
#include <stb/stb_image.h>
