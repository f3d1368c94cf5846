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
