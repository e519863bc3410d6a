# Run a command and check its outcome; used by the ctest tests of the C examples.
#
#   cmake [-D<option>=<value>...] -P run_checked.cmake -- <command> [<arg>...]
#
# or, from another script: set RUN_COMMAND (a list) and the options, then include() this file.
#
# Options:
#   OUTPUT_DIR            removed before the run (a fresh output directory); after a failed run
#                         it must hold no *.parquet file (nothing half-written is ever visible)
#   EXPECT_EXIT_CODE      the exit status the command must return (default 0)
#   EXPECT_ROWS_OF        a CSV file: stdout must say "wrote <N> rows", N = its data lines
#                         (lines after the header; the sample files have no quoted newlines)
#   EXPECT_STDOUT_REGEX   a regular expression stdout must match
#   EXPECT_STDERR_REGEX   a regular expression stderr must match
cmake_minimum_required(VERSION 3.16)

set(_command "${RUN_COMMAND}")
if(NOT DEFINED RUN_COMMAND)
  set(_after_separator FALSE)
  math(EXPR _last "${CMAKE_ARGC} - 1")
  foreach(_i RANGE ${_last})
    if(_after_separator)
      list(APPEND _command "${CMAKE_ARGV${_i}}")
    elseif(CMAKE_ARGV${_i} STREQUAL "--")
      set(_after_separator TRUE)
    endif()
  endforeach()
endif()
if(NOT _command)
  message(FATAL_ERROR "usage: cmake [-D...] -P run_checked.cmake -- <command> [<arg>...]")
endif()
if(NOT DEFINED EXPECT_EXIT_CODE)
  set(EXPECT_EXIT_CODE 0)
endif()

if(OUTPUT_DIR)
  file(REMOVE_RECURSE "${OUTPUT_DIR}")
endif()

list(JOIN _command " " _shown)
message(STATUS "running: ${_shown}")
execute_process(COMMAND ${_command}
  RESULT_VARIABLE _exit_code
  OUTPUT_VARIABLE _stdout
  ERROR_VARIABLE _stderr)
message(STATUS "exit status: ${_exit_code}\n--- stdout ---\n${_stdout}--- stderr ---\n${_stderr}--------------")

set(_failures "")
if(NOT _exit_code STREQUAL EXPECT_EXIT_CODE)
  list(APPEND _failures "exit status ${_exit_code}, expected ${EXPECT_EXIT_CODE}")
endif()

if(EXPECT_ROWS_OF)
  file(READ "${EXPECT_ROWS_OF}" _csv)
  string(REGEX MATCHALL "\n" _newlines "${_csv}")
  list(LENGTH _newlines _lines)
  if(NOT _csv MATCHES "\n$")
    math(EXPR _lines "${_lines} + 1") # a last line without a newline
  endif()
  math(EXPR _rows "${_lines} - 1") # the header
  if(NOT _stdout MATCHES "wrote ${_rows} rows")
    list(APPEND _failures "stdout does not say 'wrote ${_rows} rows' (${EXPECT_ROWS_OF} has ${_rows} data lines)")
  endif()
  file(GLOB _parquet "${OUTPUT_DIR}/*.parquet")
  if(OUTPUT_DIR AND NOT _parquet)
    list(APPEND _failures "no .parquet file in ${OUTPUT_DIR}")
  endif()
endif()

if(DEFINED EXPECT_STDOUT_REGEX AND NOT _stdout MATCHES "${EXPECT_STDOUT_REGEX}")
  list(APPEND _failures "stdout does not match '${EXPECT_STDOUT_REGEX}'")
endif()
if(DEFINED EXPECT_STDERR_REGEX AND NOT _stderr MATCHES "${EXPECT_STDERR_REGEX}")
  list(APPEND _failures "stderr does not match '${EXPECT_STDERR_REGEX}'")
endif()

if(OUTPUT_DIR AND NOT EXPECT_EXIT_CODE STREQUAL "0")
  file(GLOB _parquet "${OUTPUT_DIR}/*.parquet")
  if(_parquet)
    list(APPEND _failures "a failed run left Parquet files visible: ${_parquet}")
  endif()
endif()

if(_failures)
  list(JOIN _failures "\n  " _text)
  message(FATAL_ERROR "FAILED:\n  ${_text}")
endif()
