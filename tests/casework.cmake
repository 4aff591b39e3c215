# casework: the centre's workflow operations (proto/sk_casework.c) and the case-model rules they
# rest on, pure; and the server's casework API (storage/sk_caseops.c) on a real LMDB store.
sakhi_add_test(test_casework
  SOURCES ${CMAKE_CURRENT_LIST_DIR}/unit/test_casework.c
  LIBS sakhi_proto
  LABELS unit
  TIMEOUT 60)
if(TARGET sakhi_server_core AND TARGET sakhi-admin)
  sakhi_add_test(test_caseops
    SOURCES ${CMAKE_CURRENT_LIST_DIR}/integration/test_caseops.c
    LIBS sakhi_testsupport sakhi_server_core
    LABELS integration
    TIMEOUT 120)
  add_dependencies(test_caseops sakhi-admin)
endif()
# The whole loop with real processes: sakhi-server, two libsakhi devices of one ASHA, and the
# centre's staff through the sakhi-admin executable.
if(TARGET sakhi AND TARGET sakhi-server AND TARGET sakhi-admin)
  sakhi_add_test(casework_e2e
    SOURCES ${CMAKE_CURRENT_LIST_DIR}/integration/test_casework_e2e.c
    LIBS sakhi_static sakhi_testsupport Threads::Threads
    LABELS integration
    TIMEOUT 300)
  add_dependencies(casework_e2e sakhi-admin sakhi-server)
endif()
