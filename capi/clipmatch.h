/* clipmatch — the stable C ABI. (Filled in with the Model API; see issue 4.) */
#ifndef CLIPMATCH_H
#define CLIPMATCH_H
#include <clipmatch/export.h>
#ifdef __cplusplus
extern "C" {
#endif
/** Library version, "MAJOR.MINOR.PATCH"; a static string. */
CLIPMATCH_API const char* clipmatch_version(void);
#ifdef __cplusplus
}
#endif
#endif
