# worklist: the centre's case filters, sorted task worklist and owner alerts
# (storage/sk_worklist.c) on a real LMDB store, and `sakhi-admin cases`, `tasks`, `alerts`.
if(TARGET sakhi_server_core AND TARGET sakhi-admin)
  sakhi_add_test(test_worklist
    SOURCES ${CMAKE_CURRENT_LIST_DIR}/integration/test_worklist.c
    LIBS sakhi_testsupport sakhi_server_core
    LABELS integration
    TIMEOUT 120)
  add_dependencies(test_worklist sakhi-admin)
endif()
