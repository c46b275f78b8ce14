# Precompiled headers (IPCT_PCH, on by default).  Much of a source file's
# compile time here is spent parsing the same third-party headers, above all
# nlohmann/json (which most of the project's headers include) and, in the
# tests, GoogleTest: measured with g++ 12 at -O2 -g1, cli_mp_test.cpp took
# 17.6 s without and 11.8 s with them precompiled.  The lists are kept to
# headers nearly every file includes anyway: a PCH that also held spdlog,
# yaml-cpp and CLI11 made small engine files slower (perturb_log.cpp 8-10 s
# without, 12-15 s with).  Third-party and standard headers only, so that
# a change to the project's own headers never rebuilds a PCH.
set(IPCT_PCH_COMMON_HEADERS
  <algorithm> <cstdint> <map> <memory> <optional> <string> <string_view> <vector>
  <nlohmann/json.hpp>)

# The engine library's own PCH (its sources are compiled once, with its flags).
function(ipct_engine_pch target)
  if(IPCT_PCH)
    target_precompile_headers(${target} PRIVATE ${IPCT_PCH_COMMON_HEADERS})
  endif()
endfunction()

# The tests are one executable per source file with identical flags: one PCH,
# built by ipct_test_pch, is reused by all of them (REUSE_FROM).  A test's
# own extra definitions (paths of helper programs) appear in none of the
# precompiled headers, which both compilers accept.
function(ipct_test_pch_target)
  if(NOT IPCT_PCH OR TARGET ipct_test_pch)
    return()
  endif()
  file(WRITE ${CMAKE_BINARY_DIR}/ipct_test_pch.cpp "// the tests' precompiled header\n")
  add_library(ipct_test_pch OBJECT ${CMAKE_BINARY_DIR}/ipct_test_pch.cpp)
  target_link_libraries(ipct_test_pch PRIVATE ipct_commands GTest::gtest)
  target_precompile_headers(ipct_test_pch PRIVATE ${IPCT_PCH_COMMON_HEADERS} <gtest/gtest.h>)
endfunction()

function(ipct_test_pch target)
  if(IPCT_PCH)
    target_precompile_headers(${target} REUSE_FROM ipct_test_pch)
  endif()
endfunction()
