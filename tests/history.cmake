# history: a record's field history over the protocol (HISTORY / HISTORY_OF, docs/PROTOCOL.md
# 3.15-3.16) from a real sakhi-server to protocol clients of each role.
if(TARGET sakhi-server)
  sakhi_add_test(test_history_wire
    SOURCES ${CMAKE_CURRENT_LIST_DIR}/integration/test_history_wire.c
    LIBS sakhi_testsupport
    LABELS integration
    TIMEOUT 120)
  add_dependencies(test_history_wire sakhi-server)
endif()
