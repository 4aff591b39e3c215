# security: the server side of docs/SECURITY.md - TLS transport, revocation of live sessions,
# rate limiting and the hash-chained audit log, OP_ORDER, erasure that really erases, and the
# IDOR battery. Real server processes on 127.0.0.1 through the harness in support/.
# sakhi_testsupport is defined in server.cmake (included after this file; target names in
# LIBS resolve when the build is generated).
if(NOT TARGET sakhi-server)
  return()
endif()

foreach(t test_security_tls test_security_revoke test_security_audit test_security_erase
          test_security_idor)
  if(EXISTS ${CMAKE_CURRENT_LIST_DIR}/integration/${t}.c)
    sakhi_add_test(${t}
      SOURCES ${CMAKE_CURRENT_LIST_DIR}/integration/${t}.c
      LIBS sakhi_testsupport Threads::Threads
      LABELS integration
      TIMEOUT 120)
  endif()
endforeach()
