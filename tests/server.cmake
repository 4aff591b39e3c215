# server: sakhi-server integration tests. Each starts a real server process (plaintext on
# 127.0.0.1, a port it picks itself) on a real LMDB store in a temp dir, through the harness in
# support/ (sk_proc: processes, ports, temp dirs; sk_testserver: the server around a test;
# sk_testclient: a blocking protocol client built on proto/).
if(NOT TARGET sakhi-server)
  return()
endif()

add_library(sakhi_testsupport STATIC
  ${CMAKE_CURRENT_LIST_DIR}/support/sk_proc.c
  ${CMAKE_CURRENT_LIST_DIR}/support/sk_testclient.c
  ${CMAKE_CURRENT_LIST_DIR}/support/sk_testserver.c)
target_include_directories(sakhi_testsupport PUBLIC ${CMAKE_CURRENT_LIST_DIR}/support)
target_link_libraries(sakhi_testsupport PUBLIC sakhi_server_core sakhi_proto
                      PRIVATE sakhi_warnings)
target_compile_definitions(sakhi_testsupport PRIVATE
  SAKHI_SERVER_BIN="$<TARGET_FILE:sakhi-server>")
add_dependencies(sakhi_testsupport sakhi-server)

function(sakhi_server_test name)
  cmake_parse_arguments(S "" "TIMEOUT" "LABELS" ${ARGN})
  if(NOT S_TIMEOUT)
    set(S_TIMEOUT 120)
  endif()
  sakhi_add_test(${name}
    SOURCES ${CMAKE_CURRENT_LIST_DIR}/integration/${name}.c
    LIBS sakhi_testsupport Threads::Threads
    LABELS integration ${S_LABELS}
    TIMEOUT ${S_TIMEOUT})
endfunction()

sakhi_server_test(test_server_sync)
foreach(t test_server_limits test_server_load test_server_durability test_server_start)
  if(EXISTS ${CMAKE_CURRENT_LIST_DIR}/integration/${t}.c)
    sakhi_server_test(${t})
  endif()
endforeach()

# An allocation failure while checking an AUTH: never AUTH_FAILED, never counted, never silent.
# Needs the iofault preload library of tests/fault, which exists only without sanitizers.
if(NOT SAKHI_SANITIZE AND EXISTS ${CMAKE_CURRENT_LIST_DIR}/fault/iofault.c)
  sakhi_server_test(test_server_auth_nomem LABELS fault TIMEOUT 300)
  target_compile_definitions(test_server_auth_nomem PRIVATE
    SK_IOFAULT_LIB="$<TARGET_FILE:sakhi_iofault>")
  add_dependencies(test_server_auth_nomem sakhi_iofault)
endif()

# The failed-authentication counters (server/sk_ratelimit.c), as a unit.
sakhi_add_test(test_ratelimit
  SOURCES ${CMAKE_CURRENT_LIST_DIR}/unit/test_ratelimit.c
  LIBS sakhi_server_core
  LABELS unit
  TIMEOUT 60)
