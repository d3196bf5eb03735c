# The dependency rules the folder tree promises, checked on the sources
# (cmake -D SOURCE_DIR=<repo> -P check_layers.cmake; registered as the CTest
# `layers`). Link rules are CMake's job; this catches the includes a link
# does not: a header-only struct pulled from a layer above, a Boost or POSIX
# header in the std-only core.
#   - adapters/ never include bot/app/ (the app composes adapters, not the reverse);
#   - store/ and messages/ include neither bot/app/ nor adapters/;
#   - bot/domain/ includes bot/domain/ and standard C++ headers only;
#   - tests/domain/ likewise, plus Catch2.
# A standard header is a bare lower-case name: <vector>, <string_view>, <cstdint>.
cmake_minimum_required(VERSION 3.25)
if(NOT SOURCE_DIR)
  message(FATAL_ERROR "usage: cmake -D SOURCE_DIR=<repo> -P check_layers.cmake")
endif()

set(violations "")

# Appends "file:line: #include ..." for every include of the files under
# `dir` for which the regular expression `bad` matches the included name
# (quotes or angle brackets kept: "bot/app/x.hpp", <boost/asio.hpp>) and
# `allowed` (if given) does not.
function(check dir bad allowed why)
  file(GLOB_RECURSE files ${SOURCE_DIR}/${dir}/*.hpp ${SOURCE_DIR}/${dir}/*.cpp ${SOURCE_DIR}/${dir}/*.h)
  foreach(f IN LISTS files)
    file(STRINGS ${f} lines REGEX "^[ \t]*#[ \t]*include")
    file(RELATIVE_PATH rel ${SOURCE_DIR} ${f})
    foreach(l IN LISTS lines)
      string(REGEX REPLACE "^[ \t]*#[ \t]*include[ \t]*([\"<][^\">]*[\">]).*$" "\\1" name "${l}")
      if(name MATCHES "${bad}" AND (allowed STREQUAL "" OR NOT name MATCHES "${allowed}"))
        list(APPEND violations "${rel}: #include ${name} (${why})")
      endif()
    endforeach()
  endforeach()
  set(violations "${violations}" PARENT_SCOPE)
endfunction()

check(adapters "^[\"<]bot/app/" "" "adapters sit below the app")
check(store "^[\"<](bot/app|adapters)/" "" "the store sits below the app and beside the adapters")
check(messages "^[\"<](bot/app|adapters)/" "" "messages sit below the app and beside the adapters")
check(bot/domain "." "^(\"bot/domain/[^\"]+\"|<[a-z_]+>)$" "the domain is std only")
check(tests/domain "." "^(\"bot/domain/[^\"]+\"|<[a-z_]+>|<catch2/[^>]+>)$" "domain tests link the domain and Catch2 only")

if(violations)
  list(LENGTH violations n)
  list(JOIN violations "\n  " text)
  message(FATAL_ERROR "${n} include(s) against the layers (docs/ARCHITECTURE.md):\n  ${text}")
endif()
message(STATUS "layers: every include points down")
