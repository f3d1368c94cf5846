# Finds every third-party dependency (Debian 12 packages, or the same packages unpacked under a prefix on the
# GPU machine) and gathers the private ones into the interface target clipmatch::deps.

find_package(Torch REQUIRED)
find_package(fmt REQUIRED)
find_package(nlohmann_json 3.9 REQUIRED)
find_package(CLI11 REQUIRED)
find_package(Eigen3 3.3 REQUIRED NO_MODULE)
find_package(Threads REQUIRED)
# ICU: Unicode normalisation, character classes and case mapping for the tokenizers (Debian libicu-dev).
find_package(ICU REQUIRED COMPONENTS uc i18n)
# Prefer the shared zlib: a carried zlib1g-dev whose libz.so symlink dangles would otherwise leave only the
# non-PIC libz.a, which cannot go into libclipmatch.so.
find_library(ZLIB_LIBRARY NAMES libz.so.1 z)
find_package(ZLIB REQUIRED)  # reads CLIP's gzip-compressed BPE merges

find_path(SENTENCEPIECE_INCLUDE_DIR sentencepiece_processor.h REQUIRED)
find_library(SENTENCEPIECE_LIBRARY sentencepiece REQUIRED)
find_library(SENTENCEPIECE_TRAIN_LIBRARY sentencepiece_train REQUIRED)
find_path(STB_INCLUDE_DIR stb/stb_image.h REQUIRED)
find_library(STB_LIBRARY stb REQUIRED)  # Debian's libstb0 carries the stb_image/resize/write implementations

# Tesseract (Debian libtesseract-dev + tesseract-ocr-eng): reading posters for the text channel
# (include/clipmatch/ocr.hpp). Optional: without it the library builds and --ocr fails with a clear error.
option(CLIPMATCH_WITH_OCR "Read posters with Tesseract when it is installed" ON)
set(CLIPMATCH_HAVE_TESSERACT OFF)
if(CLIPMATCH_WITH_OCR)
  find_package(PkgConfig)
  if(PkgConfig_FOUND)
    pkg_check_modules(TESSERACT IMPORTED_TARGET tesseract lept)
    if(TESSERACT_FOUND)
      set(CLIPMATCH_HAVE_TESSERACT ON)
    endif()
  endif()
endif()
message(STATUS "clipmatch: OCR with Tesseract: ${CLIPMATCH_HAVE_TESSERACT}")

# FAISS (Debian libfaiss-dev): catalog indexes (include/clipmatch/catalog.hpp). Optional like Tesseract.
option(CLIPMATCH_WITH_FAISS "Build catalog indexes with FAISS when it is installed" ON)
set(CLIPMATCH_HAVE_FAISS OFF)
if(CLIPMATCH_WITH_FAISS)
  find_package(OpenMP QUIET)  # Debian's faiss-targets.cmake names OpenMP::OpenMP_CXX without finding it
  if(OpenMP_CXX_FOUND)
    find_package(faiss CONFIG QUIET)
  endif()
  if(faiss_FOUND)
    set(CLIPMATCH_HAVE_FAISS ON)
  endif()
endif()
message(STATUS "clipmatch: catalog indexes with FAISS: ${CLIPMATCH_HAVE_FAISS}")

# oneDNN (Debian libdnnl-dev): convolutions with their activation and residual sum fused (src/nn/direct_conv.hpp).
# Only where LibTorch's CPU library links that very libdnnl (Debian's LibTorch does); pip builds carry their own
# oneDNN inside, and a second copy would not be the one LibTorch uses.
option(CLIPMATCH_WITH_DNNL "Run CNN convolutions through oneDNN directly when LibTorch links libdnnl" ON)
set(CLIPMATCH_HAVE_DNNL OFF)
if(CLIPMATCH_WITH_DNNL)
  find_path(DNNL_INCLUDE_DIR oneapi/dnnl/dnnl.hpp)
  find_library(DNNL_LIBRARY dnnl)
  find_library(CLIPMATCH_TORCH_CPU_LIBRARY torch_cpu HINTS "${TORCH_INSTALL_PREFIX}/lib")
  find_program(CLIPMATCH_READELF readelf)
  if(DNNL_INCLUDE_DIR AND DNNL_LIBRARY AND CLIPMATCH_TORCH_CPU_LIBRARY AND CLIPMATCH_READELF)
    execute_process(COMMAND "${CLIPMATCH_READELF}" -d "${CLIPMATCH_TORCH_CPU_LIBRARY}" OUTPUT_VARIABLE _torch_dynamic
                    ERROR_QUIET)
    if(_torch_dynamic MATCHES "NEEDED[^\n]*libdnnl\\.so")
      set(CLIPMATCH_HAVE_DNNL ON)
    endif()
  endif()
endif()
message(STATUS "clipmatch: convolutions through oneDNN: ${CLIPMATCH_HAVE_DNNL}")

message(STATUS "clipmatch: LibTorch ${Torch_VERSION}, sentencepiece ${SENTENCEPIECE_LIBRARY}, stb ${STB_LIBRARY}, "
               "ICU ${ICU_VERSION}")

add_library(clipmatch_deps INTERFACE)
add_library(clipmatch::deps ALIAS clipmatch_deps)
target_include_directories(clipmatch_deps INTERFACE ${STB_INCLUDE_DIR})
# libstdc++ is named before LibTorch on purpose: the pip/manylinux LibTorch (the GPU machine's) statically
# carries and exports parts of a newer libstdc++ (std::filesystem among them), and its remove_all() jumps to a
# null pointer when it wins symbol lookup. Naming libstdc++ first puts it ahead of libtorch.so in DT_NEEDED,
# so every std:: symbol binds to the system library.
target_link_libraries(clipmatch_deps INTERFACE
  "-Wl,--push-state,--no-as-needed" stdc++ "-Wl,--pop-state"
  ${TORCH_LIBRARIES} fmt::fmt nlohmann_json::nlohmann_json Eigen3::Eigen Threads::Threads
  ${STB_LIBRARY} ICU::uc ICU::i18n ZLIB::ZLIB ${CMAKE_DL_LIBS})
if(CLIPMATCH_HAVE_FAISS)
  target_link_libraries(clipmatch_deps INTERFACE faiss)
  target_compile_definitions(clipmatch_deps INTERFACE CLIPMATCH_HAVE_FAISS=1)
endif()
if(CLIPMATCH_HAVE_DNNL)
  target_include_directories(clipmatch_deps INTERFACE ${DNNL_INCLUDE_DIR})
  target_link_libraries(clipmatch_deps INTERFACE ${DNNL_LIBRARY})
  target_compile_definitions(clipmatch_deps INTERFACE CLIPMATCH_HAVE_DNNL=1)
endif()
if(CLIPMATCH_HAVE_TESSERACT)
  target_link_libraries(clipmatch_deps INTERFACE PkgConfig::TESSERACT)
  target_compile_definitions(clipmatch_deps INTERFACE CLIPMATCH_HAVE_TESSERACT=1)
endif()
# LibTorch's exported flags (ABI macro) must reach every translation unit that includes its headers.
separate_arguments(CLIPMATCH_TORCH_FLAGS UNIX_COMMAND "${TORCH_CXX_FLAGS}")
target_compile_options(clipmatch_deps INTERFACE ${CLIPMATCH_TORCH_FLAGS})

# Debian's libsentencepiece.so bundles protobuf-lite 3.14 and exports its symbols; LibTorch links the system
# libprotobuf 3.21. In one global symbol scope the process either segfaults before main (sentencepiece first)
# or aborts in protobuf's version check on the first model load (libprotobuf first). So sentencepiece never
# enters the global scope: it is linked only into a small shim module that the library dlopen()s with
# RTLD_LOCAL | RTLD_DEEPBIND (src/text/sentencepiece_library.cpp), where its own protobuf copy binds privately.
add_library(clipmatch_sentencepiece_deps INTERFACE)
target_include_directories(clipmatch_sentencepiece_deps INTERFACE ${SENTENCEPIECE_INCLUDE_DIR})
target_link_libraries(clipmatch_sentencepiece_deps INTERFACE ${SENTENCEPIECE_LIBRARY} ${SENTENCEPIECE_TRAIN_LIBRARY})
