# ipct_add_gtests(): every *_test.cpp in the calling folder becomes its own
# GoogleTest binary.  Files named *_mp_test.cpp run several processes: they
# carry the "multiprocess" label (rerun under the sanitizer presets in CI) and
# a longer timeout.  Files named *_tsan_mp_test.cpp are built only with
# IPCT_SANITIZE=thread (the tsan preset): they assert on ThreadSanitizer's
# reports.
include(GoogleTest)
include(${CMAKE_CURRENT_LIST_DIR}/IpctPch.cmake)
ipct_test_pch_target()
function(ipct_add_gtests)
  file(GLOB tests CONFIGURE_DEPENDS ${CMAKE_CURRENT_SOURCE_DIR}/*_test.cpp)
  foreach(src IN LISTS tests)
    get_filename_component(name ${src} NAME_WE)
    if(name MATCHES "_tsan_mp_test$" AND NOT "thread" IN_LIST IPCT_SANITIZE)
      continue()
    endif()
    add_executable(${name} ${src})
    target_link_libraries(${name} PRIVATE ipct_commands GTest::gtest_main)
    target_compile_definitions(${name} PRIVATE
      IPCT_SOURCE_DIR="${PROJECT_SOURCE_DIR}"
      IPCT_BINARY="$<TARGET_FILE:ipctorture>")
    add_dependencies(${name} ipctorture)
    ipct_test_pch(${name})
    if(name MATCHES "_mp_test$")
      gtest_discover_tests(${name} PROPERTIES LABELS "multiprocess" TIMEOUT 300
                           DISCOVERY_TIMEOUT 60)
    else()
      gtest_discover_tests(${name} PROPERTIES LABELS "unit" TIMEOUT 60 DISCOVERY_TIMEOUT 60)
    endif()
  endforeach()
endfunction()
