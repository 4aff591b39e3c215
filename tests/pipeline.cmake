# pipeline: round trips of a sync (2 after the TLS handshake, counted by a relay), early
# requests behind AUTH (PROTOCOL.md section 4.1), a PULL served after the PUSHes before it, and
# WELCOME.seq finding a restored server with an empty outbox.
if(TARGET sakhi AND TARGET sakhi-server)
  sakhi_add_test(test_sync_pipeline
    SOURCES ${CMAKE_CURRENT_LIST_DIR}/integration/test_sync_pipeline.c
    LIBS sakhi_static sakhi_testsupport Threads::Threads
    LABELS integration
    TIMEOUT 120)
endif()
