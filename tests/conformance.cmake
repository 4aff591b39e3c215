# conformance: sakhi-server against docs/PROTOCOL.md - body errors keep the connection, PING in
# every state, outstanding rids, answers that do not reveal ids outside the caller's scope, the
# erased tombstone and the minimised form a creator gets after reassignment. Real server
# processes on 127.0.0.1 through the harness in support/.
if(TARGET sakhi-server)
  sakhi_add_test(test_protocol_conformance
    SOURCES ${CMAKE_CURRENT_LIST_DIR}/integration/test_protocol_conformance.c
    LIBS sakhi_testsupport Threads::Threads
    LABELS integration
    TIMEOUT 120)
endif()

# The annotated session of PROTOCOL.md section 11, replayed as written (recorded 1.0 client
# frames): the server accepts every one and answers the document's bytes.
if(TARGET sakhi-server)
  sakhi_add_test(test_golden_session
    SOURCES ${CMAKE_CURRENT_LIST_DIR}/integration/test_golden_session.c
    LIBS sakhi_testsupport Threads::Threads
    LABELS integration
    TIMEOUT 120)
endif()
