# ipctorture_add_scenario() (cmake/ipctortureScenario.cmake) on a throwaway
# project per case: each wrong call must stop the configure with its own
# message, and a right one must register a test with the command, timeout
# and labels it asked for.
#
#   cmake -DSOURCE_DIR=<repo> -DWORK_DIR=<scratch dir> -P ipctorture_add_scenario_test.cmake
cmake_minimum_required(VERSION 3.20)
set(failures 0)

# Configures a project whose CMakeLists.txt ends in CALLS; sets out_status,
# out_text (stdout and stderr) and out_dir.
function(configure_case name calls)
  set(dir "${WORK_DIR}/${name}")
  file(REMOVE_RECURSE "${dir}")
  file(MAKE_DIRECTORY "${dir}/src/scenarios")
  file(WRITE "${dir}/src/scenarios/a.yaml" "name: a\n")
  file(WRITE "${dir}/src/CMakeLists.txt"
       "cmake_minimum_required(VERSION 3.20)\n"
       "project(case LANGUAGES NONE)\n"
       "enable_testing()\n"
       "add_executable(ipctorture::ipctorture IMPORTED)\n"
       "set_target_properties(ipctorture::ipctorture PROPERTIES IMPORTED_LOCATION /bin/true)\n"
       "include(\"${SOURCE_DIR}/cmake/ipctortureScenario.cmake\")\n"
       "${calls}\n")
  execute_process(COMMAND ${CMAKE_COMMAND} -S "${dir}/src" -B "${dir}/build"
                  RESULT_VARIABLE status OUTPUT_VARIABLE out ERROR_VARIABLE err)
  set(out_status "${status}" PARENT_SCOPE)
  set(out_text "${out}${err}" PARENT_SCOPE)
  set(out_dir "${dir}/build" PARENT_SCOPE)
endfunction()

function(expect_error name calls regex)
  configure_case(${name} "${calls}")
  string(REGEX REPLACE "[ \n]+" " " flat "${out_text}")
  if(out_status EQUAL 0)
    message(SEND_ERROR "${name}: the configure succeeded; expected an error matching '${regex}'")
    math(EXPR failures "${failures} + 1")
  elseif(NOT flat MATCHES "${regex}")
    message(SEND_ERROR "${name}: expected an error matching '${regex}', got:\n${out_text}")
    math(EXPR failures "${failures} + 1")
  endif()
  set(failures ${failures} PARENT_SCOPE)
endfunction()

expect_error(no-args "ipctorture_add_scenario()" "expected a test name and a scenario file")
expect_error(name-only "ipctorture_add_scenario(t)" "expected a test name and a scenario file")
expect_error(keyword-as-name "ipctorture_add_scenario(TIMEOUT scenarios/a.yaml)"
             "expected a test name first, got 'TIMEOUT'")
expect_error(keyword-as-file "ipctorture_add_scenario(t LABELS x)"
             "expected a scenario file after the test name, got 'LABELS'")
expect_error(missing-file "ipctorture_add_scenario(t scenarios/none.yaml)"
             "no scenario file or directory '.*/scenarios/none.yaml'")
expect_error(bad-timeout "ipctorture_add_scenario(t scenarios/a.yaml TIMEOUT soon)"
             "expected a positive number of seconds for TIMEOUT, got 'soon'")
expect_error(zero-timeout "ipctorture_add_scenario(t scenarios/a.yaml TIMEOUT 0)"
             "expected a positive number of seconds for TIMEOUT, got '0'")
expect_error(empty-timeout "ipctorture_add_scenario(t scenarios/a.yaml TIMEOUT)"
             "TIMEOUT given without a value")
expect_error(stray-argument "ipctorture_add_scenario(t scenarios/a.yaml 30)"
             "unexpected arguments '30'")
expect_error(json-in-args "ipctorture_add_scenario(t scenarios/a.yaml ARGS --json x.json)"
             "ARGS may not set --json or --junit")
expect_error(junit-in-args "ipctorture_add_scenario(t scenarios/a.yaml ARGS --junit=x.xml)"
             "ARGS may not set --json or --junit")
expect_error(twice "ipctorture_add_scenario(t scenarios/a.yaml)\nipctorture_add_scenario(t scenarios/a.yaml)"
             "a test named 't' already exists")

# A right call: the test runs the imported binary on the absolute file with
# the report path and the extra arguments, with the timeout and labels given.
configure_case(good "ipctorture_add_scenario(t scenarios/a.yaml TIMEOUT 42 LABELS ipc slow ARGS --seed 5)\nipctorture_add_scenario(u scenarios)")
if(NOT out_status EQUAL 0)
  message(SEND_ERROR "good: the configure failed:\n${out_text}")
  math(EXPR failures "${failures} + 1")
else()
  execute_process(COMMAND ${CMAKE_CTEST_COMMAND} --test-dir "${out_dir}" --show-only=json-v1
                  OUTPUT_VARIABLE tests RESULT_VARIABLE status)
  string(JSON t GET "${tests}" tests 0)
  string(JSON u GET "${tests}" tests 1)
  string(JSON command GET "${t}" command)
  string(JSON props GET "${t}" properties)
  set(want_command "[ \"/bin/true\", \"run\", \"${WORK_DIR}/good/src/scenarios/a.yaml\", \"--json\", \"${out_dir}/ipctorture/t.json\", \"--junit\", \"${out_dir}/ipctorture/t.xml\", \"--seed\", \"5\" ]")
  string(JSON same EQUAL "${command}" "${want_command}")
  if(NOT same)
    message(SEND_ERROR "good: test t runs ${command}; expected ${want_command}")
    math(EXPR failures "${failures} + 1")
  endif()
  string(REGEX REPLACE "[ \n]+" "" flat "${props}")
  foreach(want "\"name\":\"TIMEOUT\",\"value\":42" "\"name\":\"LABELS\",\"value\":\\[\"ipc\",\"ipctorture\",\"slow\"\\]")
    if(NOT flat MATCHES "${want}")
      message(SEND_ERROR "good: test t lacks ${want} in ${props}")
      math(EXPR failures "${failures} + 1")
    endif()
  endforeach()
  string(REGEX REPLACE "[ \n]+" "" flat "${u}")
  foreach(want "\"value\":300" "\"value\":\\[\"ipctorture\"\\]" "/good/src/scenarios\"")
    if(NOT flat MATCHES "${want}")
      message(SEND_ERROR "good: test u (defaults, a directory) lacks ${want} in ${u}")
      math(EXPR failures "${failures} + 1")
    endif()
  endforeach()
endif()

if(failures GREATER 0)
  message(FATAL_ERROR "${failures} ipctorture_add_scenario case(s) failed")
endif()
message(STATUS "ipctorture_add_scenario: every case behaved")
