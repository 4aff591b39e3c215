# tools-load2: sakhi-load's TLS transport (--tls) against a real sakhi-server serving TLS 1.3
# with a self-signed centre certificate on 127.0.0.1: a verified run, a wrong pin, bad flags.
# sakhi_testsupport comes from server.cmake (included before this file).
if(NOT TARGET sakhi-load OR NOT TARGET sakhi_testsupport)
  return()
endif()
sakhi_add_test(test_load_tls
  SOURCES ${CMAKE_CURRENT_LIST_DIR}/integration/test_load_tls.c
  LIBS sakhi_testsupport sakhi_toolkit sakhi_proto
  LABELS integration
  TIMEOUT 180)
target_compile_definitions(test_load_tls PRIVATE
  SAKHI_SERVER_BIN="$<TARGET_FILE:sakhi-server>"
  SAKHI_LOAD_BIN="$<TARGET_FILE:sakhi-load>")
add_dependencies(test_load_tls sakhi-load sakhi-server)
