# Installs the shared library, the public C++ and C headers, a CMake package and a pkg-config file.
include(CMakePackageConfigHelpers)

install(TARGETS clipmatch EXPORT clipmatchTargets
        LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR} ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR}
        RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR} INCLUDES DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})
install(TARGETS clipmatch_sentencepiece LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR})
install(TARGETS clipmatch_cli RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})
install(DIRECTORY include/clipmatch DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})
install(FILES capi/clipmatch.h DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})

install(EXPORT clipmatchTargets NAMESPACE clipmatch:: DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/clipmatch)
configure_package_config_file(cmake/clipmatchConfig.cmake.in "${CMAKE_CURRENT_BINARY_DIR}/clipmatchConfig.cmake"
                              INSTALL_DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/clipmatch)
write_basic_package_version_file("${CMAKE_CURRENT_BINARY_DIR}/clipmatchConfigVersion.cmake"
                                 COMPATIBILITY SameMinorVersion)
install(FILES "${CMAKE_CURRENT_BINARY_DIR}/clipmatchConfig.cmake" "${CMAKE_CURRENT_BINARY_DIR}/clipmatchConfigVersion.cmake"
        DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/clipmatch)

# Relocatable: the prefix is found relative to the .pc file itself.
file(RELATIVE_PATH CLIPMATCH_PC_TO_PREFIX "/${CMAKE_INSTALL_LIBDIR}/pkgconfig" "/")
configure_file(cmake/clipmatch.pc.in "${CMAKE_CURRENT_BINARY_DIR}/clipmatch.pc" @ONLY)
install(FILES "${CMAKE_CURRENT_BINARY_DIR}/clipmatch.pc" DESTINATION ${CMAKE_INSTALL_LIBDIR}/pkgconfig)
