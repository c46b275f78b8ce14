# What `cmake --install` puts under the prefix, and the CMake package that
# lets other projects use it (find_package(ipctorture)):
#
#   bin/ipctorture                               the harness (harness/CMakeLists.txt)
#   <libdir>/ipctorture/libipctorture_sigsafe.so  the interposer, found relative
#                                                to bin/ipctorture (harness/sigsafe)
#   <libdir>/ipctorture/libipctorture_faults.so   the syscall-fault interposer,
#                                                found the same way (harness/faults)
#   include/ipctorture/plugin.h                  the plugin ABI, for plugin authors
#   share/ipctorture/scenario.schema.json        the JSON Schema of scenario files
#   <libdir>/cmake/ipctorture/                   ipctortureConfig.cmake,
#                                                ipctortureConfigVersion.cmake,
#                                                ipctortureScenario.cmake
#
# The package is written by hand (no install(EXPORT)): it imports one
# executable and one header directory, both at paths relative to the
# package's own location, so an installed tree can be moved as a whole.
include(GNUInstallDirs)
include(CMakePackageConfigHelpers)

# FILES_MATCHING picks up plugin.h whenever backends/include holds it; the
# other headers there are the harness's own C++ interfaces.
install(DIRECTORY ${PROJECT_SOURCE_DIR}/backends/include/ipctorture/
        DESTINATION ${CMAKE_INSTALL_INCLUDEDIR}/ipctorture
        FILES_MATCHING PATTERN "plugin.h")
install(FILES ${PROJECT_SOURCE_DIR}/scenarios/schema/scenario.schema.json
        DESTINATION ${CMAKE_INSTALL_DATADIR}/ipctorture)

set(IPCT_PACKAGE_DIR ${CMAKE_INSTALL_LIBDIR}/cmake/ipctorture)
configure_package_config_file(
  ${PROJECT_SOURCE_DIR}/cmake/ipctortureConfig.cmake.in
  ${PROJECT_BINARY_DIR}/ipctortureConfig.cmake
  INSTALL_DESTINATION ${IPCT_PACKAGE_DIR}
  PATH_VARS CMAKE_INSTALL_BINDIR CMAKE_INSTALL_INCLUDEDIR CMAKE_INSTALL_DATADIR)
# 0.x: a new minor version may change the scenario format or the plugin ABI.
write_basic_package_version_file(${PROJECT_BINARY_DIR}/ipctortureConfigVersion.cmake
                                 COMPATIBILITY SameMinorVersion)
install(FILES ${PROJECT_BINARY_DIR}/ipctortureConfig.cmake
              ${PROJECT_BINARY_DIR}/ipctortureConfigVersion.cmake
              ${PROJECT_SOURCE_DIR}/cmake/ipctortureScenario.cmake
        DESTINATION ${IPCT_PACKAGE_DIR})
