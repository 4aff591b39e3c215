# store_history: the server store's history read call (sk_store_history_list): values displaced
# by merges come back decoded and in order, sealed at rest, STORE_IO when damaged, gone after
# erasure. A real LMDB store in a temp dir; no server process.
if(TARGET sakhi_testsupport)
  sakhi_add_test(test_store_history
    SOURCES ${CMAKE_CURRENT_LIST_DIR}/integration/test_store_history.c
    LIBS sakhi_testsupport
    LABELS integration
    TIMEOUT 60)
endif()
