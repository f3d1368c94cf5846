/* clipmatch — symbol export macro shared by the C++ and C interfaces.
 * The library is built with hidden visibility; only what carries CLIPMATCH_API is part of the ABI. */
#ifndef CLIPMATCH_EXPORT_H
#define CLIPMATCH_EXPORT_H

#if defined(_WIN32)
#  if defined(CLIPMATCH_BUILDING)
#    define CLIPMATCH_API __declspec(dllexport)
#  else
#    define CLIPMATCH_API __declspec(dllimport)
#  endif
#else
#  define CLIPMATCH_API __attribute__((visibility("default")))
#endif

#endif /* CLIPMATCH_EXPORT_H */
