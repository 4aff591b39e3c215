# backpressure: the server's per-session output budget (--out-budget, docs/SERVER.md). A real
# server on 127.0.0.1 with a client that pipelines several MiB of PULLs and never reads: the
# server's memory stays bounded and other sessions are served. Uses the harness in support/;
# sakhi_testsupport is defined in server.cmake (target names in LIBS resolve when the build is
# generated).
if(NOT TARGET sakhi-server)
  return()
endif()

if(EXISTS ${CMAKE_CURRENT_LIST_DIR}/integration/test_server_backpressure.c)
  sakhi_add_test(test_server_backpressure
    SOURCES ${CMAKE_CURRENT_LIST_DIR}/integration/test_server_backpressure.c
    LIBS sakhi_testsupport Threads::Threads
    LABELS integration
    TIMEOUT 60)
endif()
