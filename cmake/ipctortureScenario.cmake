# ipctorture_add_scenario(NAME FILE [TIMEOUT seconds] [LABELS label...] [ARGS arg...])
#
# Registers the CTest test NAME that runs `ipctorture run FILE` with the
# installed harness (the imported target ipctorture::ipctorture).  The test
# passes when the harness exits 0 (every scenario passed) and fails on any
# other status: 1 findings, 2 a scenario or usage error, 3 an environment or
# harness error.
#
#   FILE      a scenario file or a directory of them; a relative path is taken
#             from the calling CMakeLists.txt's source directory.  It must
#             exist when the project is configured.
#   TIMEOUT   the test's TIMEOUT property in seconds (default 300).  The
#             scenario's own `timeout:` still bounds each run.
#   LABELS    the test's labels, besides "ipctorture" which every such test
#             carries (ctest -L ipctorture runs them all).
#   ARGS      more arguments to `ipctorture run` (--seed, --repeat, --perturb,
#             --sigsafe, ...).
#
# The reports of each run are written to ${CMAKE_CURRENT_BINARY_DIR}/ipctorture/:
# NAME.json (its findings, the seed and the command that reproduces the run)
# and NAME.xml (JUnit XML, one testcase per scenario and matrix cell, for CI
# systems that show those).
function(ipctorture_add_scenario)
  set(usage "ipctorture_add_scenario(NAME FILE [TIMEOUT seconds] [LABELS label...] [ARGS arg...])")
  set(keywords TIMEOUT LABELS ARGS)
  if(ARGC LESS 2)
    message(FATAL_ERROR "ipctorture_add_scenario: expected a test name and a scenario file: "
                        "${usage}; got (${ARGV})")
  endif()
  set(name "${ARGV0}")
  set(file "${ARGV1}")
  if(name STREQUAL "" OR name IN_LIST keywords)
    message(FATAL_ERROR "ipctorture_add_scenario: expected a test name first, got '${name}': "
                        "${usage}")
  endif()
  if(file STREQUAL "" OR file IN_LIST keywords)
    message(FATAL_ERROR "ipctorture_add_scenario(${name}): expected a scenario file after the "
                        "test name, got '${file}': ${usage}")
  endif()
  cmake_parse_arguments(PARSE_ARGV 2 arg "" "TIMEOUT" "LABELS;ARGS")
  if(arg_UNPARSED_ARGUMENTS)
    message(FATAL_ERROR "ipctorture_add_scenario(${name}): unexpected arguments "
                        "'${arg_UNPARSED_ARGUMENTS}'; expected ${usage}")
  endif()
  if(arg_KEYWORDS_MISSING_VALUES)
    message(FATAL_ERROR "ipctorture_add_scenario(${name}): ${arg_KEYWORDS_MISSING_VALUES} "
                        "given without a value; expected ${usage}")
  endif()

  set(timeout 300)
  if(DEFINED arg_TIMEOUT)
    if(NOT arg_TIMEOUT MATCHES "^([0-9]+\\.?[0-9]*|\\.[0-9]+)$" OR arg_TIMEOUT EQUAL 0)
      message(FATAL_ERROR "ipctorture_add_scenario(${name}): expected a positive number of "
                          "seconds for TIMEOUT, got '${arg_TIMEOUT}'")
    endif()
    set(timeout "${arg_TIMEOUT}")
  endif()

  cmake_path(ABSOLUTE_PATH file BASE_DIRECTORY "${CMAKE_CURRENT_SOURCE_DIR}" NORMALIZE)
  if(NOT EXISTS "${file}")
    message(FATAL_ERROR "ipctorture_add_scenario(${name}): no scenario file or directory "
                        "'${file}' (FILE is relative to ${CMAKE_CURRENT_SOURCE_DIR})")
  endif()
  if(TEST "${name}")
    message(FATAL_ERROR "ipctorture_add_scenario(${name}): a test named '${name}' already "
                        "exists in this directory; expected a new name")
  endif()
  foreach(a IN LISTS arg_ARGS)
    if(a MATCHES "^--(json|junit)(=|$)")
      message(FATAL_ERROR "ipctorture_add_scenario(${name}): ARGS may not set --json or --junit; "
                          "the reports go to ${CMAKE_CURRENT_BINARY_DIR}/ipctorture/${name}.json "
                          "and ${name}.xml")
    endif()
  endforeach()
  if(NOT TARGET ipctorture::ipctorture)
    message(FATAL_ERROR "ipctorture_add_scenario(${name}): the target ipctorture::ipctorture is "
                        "missing; call find_package(ipctorture REQUIRED) first")
  endif()

  set(reports "${CMAKE_CURRENT_BINARY_DIR}/ipctorture")
  file(MAKE_DIRECTORY "${reports}")
  add_test(NAME "${name}" COMMAND ipctorture::ipctorture run "${file}" --json "${reports}/${name}.json"
                                  --junit "${reports}/${name}.xml" ${arg_ARGS})
  set(labels ipctorture ${arg_LABELS})
  set_tests_properties("${name}" PROPERTIES TIMEOUT "${timeout}" LABELS "${labels}")
endfunction()
