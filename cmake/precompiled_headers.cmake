# Precompiled headers (GCC and clang): gRPC, the generated protobuf code, nlohmann
# JSON, Abseil and (for tests) Catch2 take seconds to parse in every one of
# our ~170 translation units, most of a test file's compile time. They are
# compiled once per flavour here and reused by every C++ library and program
# of ours; mapping the result costs a fraction of a second. Included from the
# top-level CMakeLists.txt after every target exists. A precompiled header
# that does not match its user is an error (-Winvalid-pch with -Werror), so
# none is silently ignored.
#
# A precompiled header is only used by compiles with the same -fpic / -fpie
# setting: the few position-independent libraries (those linked into
# libapproval_client.so: small files with light headers) go without.
# Catch2 goes only into targets under tests/, never into a shipped binary.
set(_approval_pch_common
  <algorithm> <chrono> <functional> <map> <memory> <mutex> <optional>
  <string> <thread> <utility> <vector>
  <absl/status/status.h> <absl/status/statusor.h> <absl/strings/str_cat.h>
  <absl/strings/string_view.h> <absl/synchronization/mutex.h>
  <absl/time/time.h>
  <grpcpp/grpcpp.h> <nlohmann/json.hpp>
  [["approval/v1/approval.grpc.pb.h"]])

set(_approval_pch_anchor ${CMAKE_CURRENT_LIST_DIR}/pch_anchor.cc)
function(approval_pch_flavour name)
  add_library(${name} STATIC ${_approval_pch_anchor})
  # The generated headers, not the library: a build of a few targets (the
  # fuzz targets) need not compile the generated code for this.
  add_dependencies(${name} approval_proto_headers)
  target_include_directories(${name} PRIVATE
    $<TARGET_PROPERTY:approval_proto,INTERFACE_INCLUDE_DIRECTORIES>)
  target_link_libraries(${name} PRIVATE protobuf::libprotobuf gRPC::grpc++
    nlohmann_json::nlohmann_json absl::status absl::statusor absl::strings
    absl::synchronization absl::time)
  target_precompile_headers(${name} PRIVATE ${_approval_pch_common})
endfunction()
approval_pch_flavour(approval_pch)
approval_pch_flavour(approval_pch_tests)
# Catch2 is a header in /usr/include, found without its CMake package.
target_precompile_headers(approval_pch_tests PRIVATE <catch2/catch.hpp>)

# Every executable and static library below ${dir} that qualifies reuses
# the flavour that matches it. Left out: the flavours themselves, the Catch2
# runner (it defines CATCH_CONFIG_RUNNER before including Catch2), targets
# with hidden visibility (the client library and its twin) and
# position-independent ones.
function(approval_reuse_pch dir)
  get_property(targets DIRECTORY ${dir} PROPERTY BUILDSYSTEM_TARGETS)
  foreach(target IN LISTS targets)
    get_target_property(type ${target} TYPE)
    get_target_property(visibility ${target} CXX_VISIBILITY_PRESET)
    get_target_property(pic ${target} POSITION_INDEPENDENT_CODE)
    get_target_property(source_dir ${target} SOURCE_DIR)
    if(NOT type MATCHES "^(EXECUTABLE|STATIC_LIBRARY)$"
        OR target MATCHES "^approval_pch"
        OR target STREQUAL "approval_catch_main"
        OR target STREQUAL "approval_proto"
        OR visibility OR pic)
      continue()
    endif()
    if(source_dir MATCHES "^${PROJECT_SOURCE_DIR}/tests(/|$)")
      set(flavour approval_pch_tests)
    else()
      set(flavour approval_pch)
    endif()
    target_precompile_headers(${target} REUSE_FROM ${flavour})
  endforeach()
  get_property(subdirs DIRECTORY ${dir} PROPERTY SUBDIRECTORIES)
  foreach(subdir IN LISTS subdirs)
    approval_reuse_pch(${subdir})
  endforeach()
endfunction()
approval_reuse_pch(${PROJECT_SOURCE_DIR})
