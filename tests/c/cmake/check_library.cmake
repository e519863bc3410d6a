# The shared library exports only the C API (dativo_* symbols) and its SONAME carries the C ABI
# version, so a program built against ABI 1 never loads an ABI-2 library.
#
#   cmake -DLIBRARY=<libdativo.so> -DEXPECTED_SONAME=libdativo.so.<abi> -DNM=<nm> -DREADELF=<readelf>
#         -P check_library.cmake
cmake_minimum_required(VERSION 3.16)

execute_process(COMMAND "${NM}" -D --defined-only "${LIBRARY}"
  RESULT_VARIABLE _rc OUTPUT_VARIABLE _symbols ERROR_VARIABLE _err)
if(NOT _rc EQUAL 0)
  message(FATAL_ERROR "${NM} -D --defined-only ${LIBRARY} failed: ${_err}")
endif()
string(REPLACE "\n" ";" _lines "${_symbols}")
set(_exported "")
set(_foreign "")
foreach(_line IN LISTS _lines)
  # "<address> <type> <name>[@version]"
  if(_line MATCHES "^[0-9a-fA-F]* *[A-Za-z] ([^ @]+)")
    set(_name "${CMAKE_MATCH_1}")
    list(APPEND _exported "${_name}")
    if(NOT _name MATCHES "^dativo_")
      list(APPEND _foreign "${_name}")
    endif()
  endif()
endforeach()
list(LENGTH _exported _count)
message(STATUS "${LIBRARY} exports ${_count} symbols")
if(_foreign)
  list(JOIN _foreign "\n  " _text)
  message(FATAL_ERROR "symbols outside the dativo_ prefix are exported:\n  ${_text}")
endif()
foreach(_required dativo_version dativo_version_number dativo_abi_version dativo_csv_reader_open)
  if(NOT _required IN_LIST _exported)
    message(FATAL_ERROR "${_required} is not exported (exported: ${_exported})")
  endif()
endforeach()

execute_process(COMMAND "${READELF}" -d "${LIBRARY}"
  RESULT_VARIABLE _rc OUTPUT_VARIABLE _dynamic ERROR_VARIABLE _err)
if(NOT _rc EQUAL 0)
  message(FATAL_ERROR "${READELF} -d ${LIBRARY} failed: ${_err}")
endif()
if(NOT _dynamic MATCHES "\\(SONAME\\)[^\n]*\\[([^]\n]*)\\]")
  message(FATAL_ERROR "${LIBRARY} has no SONAME")
endif()
if(NOT CMAKE_MATCH_1 STREQUAL EXPECTED_SONAME)
  message(FATAL_ERROR "SONAME is '${CMAKE_MATCH_1}', expected '${EXPECTED_SONAME}'")
endif()
message(STATUS "SONAME ${CMAKE_MATCH_1}")
