# enroll_uri: enrollment from one scan. The URI codec (proto/sk_uri.c) as a unit test;
# sakhi_enroll_uri against a real TLS sakhi-server; and the tools end to end: sakhi-admin
# enroll-code's URI and QR code (PNG decoded with zbarimg), `sakhi enroll --uri`, the shipped
# example and the README's commands against a TLS server.
sakhi_add_test(test_enroll_uri
  SOURCES ${CMAKE_CURRENT_LIST_DIR}/unit/test_enroll_uri.c
  LIBS sakhi_proto
  LABELS unit
  TIMEOUT 60)

if(TARGET sakhi AND TARGET sakhi-server)
  sakhi_add_test(test_client_enroll_uri
    SOURCES ${CMAKE_CURRENT_LIST_DIR}/integration/test_client_enroll_uri.c
    LIBS sakhi_static sakhi_testsupport Threads::Threads
    LABELS integration
    TIMEOUT 120)
endif()

# The tools and the shipped example against a TLS server (needs zbarimg from zbar-tools).
if(TARGET sakhi-admin AND TARGET sakhi-cli AND TARGET sakhi-server AND TARGET sakhi-example
   AND NOT SAKHI_SANITIZE AND NOT CMAKE_CROSSCOMPILING)
  add_test(NAME test_enroll_uri_tools
    COMMAND bash ${CMAKE_CURRENT_LIST_DIR}/integration/enroll-uri-tools.sh ${PROJECT_BINARY_DIR}
            ${PROJECT_SOURCE_DIR})
  set_tests_properties(test_enroll_uri_tools PROPERTIES LABELS integration TIMEOUT 180)
endif()
