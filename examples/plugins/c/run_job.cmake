# Run a dativo job whose source is the C numbers_reader plugin, and check the outcome; used by
# the ctest tests of examples/plugins/c.
#
#   cmake -DDATIVO=<dativo CLI> -DPLUGIN=<libnumbers_reader_plugin.so> -DWORK_DIR=<dir>
#         [-DROWS=<n>] [-DFAIL_AT=<row>] [-DEXPECT_EXIT_CODE=<code>]
#         [-DEXPECT_STDOUT_REGEX=<re>] [-DEXPECT_STDERR_REGEX=<re>] [-DVALGRIND=<valgrind>]
#         -P run_job.cmake
#
# With VALGRIND, dativo runs under valgrind's leak check: a definite or indirect leak, or a
# memory error (in dativo or in the plugin), makes valgrind exit 86 and fails the test.
#
# WORK_DIR is emptied, then gets job.yaml, asset.yaml and the output folder out/. A
# successful run must leave exactly one .parquet file there; a failed one none.
cmake_minimum_required(VERSION 3.16)

foreach(_required DATIVO PLUGIN WORK_DIR)
  if(NOT ${_required})
    message(FATAL_ERROR "run_job.cmake needs -D${_required}=...")
  endif()
endforeach()
if(NOT EXISTS "${DATIVO}")
  message(FATAL_ERROR "${DATIVO} is missing: build the dativo CLI first (cargo build)")
endif()
if(NOT DEFINED EXPECT_EXIT_CODE)
  set(EXPECT_EXIT_CODE 0)
endif()

file(REMOVE_RECURSE "${WORK_DIR}")
file(MAKE_DIRECTORY "${WORK_DIR}")
# The plugin's settings go under source.connection, which a job passes to a custom reader.
set(_config "")
if(DEFINED ROWS)
  string(APPEND _config "    rows: ${ROWS}\n")
endif()
if(DEFINED FAIL_AT)
  string(APPEND _config "    fail_at: ${FAIL_AT}\n")
endif()
if(_config STREQUAL "")
  set(_config "    {}\n")
endif()
file(WRITE "${WORK_DIR}/asset.yaml" "asset:
  name: numbers
  schema:
    - {name: id, type: integer, required: true}
    - {name: label, type: string, required: false}
")
file(WRITE "${WORK_DIR}/job.yaml" "source:
  type: numbers
  custom_reader: \"${PLUGIN}:dativo_plugin_init\"
  connection:
${_config}asset_path: asset.yaml
target:
  output_base: out
")

set(_wrapper "")
if(VALGRIND)
  set(_wrapper "${VALGRIND}" --leak-check=full --errors-for-leak-kinds=definite,indirect --error-exitcode=86)
endif()
# The run and its checks (exit status, output, no Parquet file left by a failed run) are the
# C examples' shared ones; this script adds the job files and, on success, exactly one file.
set(RUN_COMMAND ${_wrapper} "${DATIVO}" run --quiet --config "${WORK_DIR}/job.yaml")
set(OUTPUT_DIR "${WORK_DIR}/out")
include("${CMAKE_CURRENT_LIST_DIR}/../../../tests/c/cmake/run_checked.cmake")

file(GLOB _parquet "${WORK_DIR}/out/*.parquet")
list(LENGTH _parquet _files)
if(EXPECT_EXIT_CODE STREQUAL "0" AND NOT _files EQUAL 1)
  message(FATAL_ERROR "FAILED:\n  expected one .parquet file in ${WORK_DIR}/out, found ${_files}")
endif()
