#include "clipmatch.h"

extern "C" const char* clipmatch_version(void) { return "0.1.0"; }
