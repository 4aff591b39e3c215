# transfer: a case moved between centres through their hub (docs/REPLICATION.md, "Case
# transfer between centres"). The sealing, the HUB_XFER / HUB_XFER_OF codec and the hub's
# state machine, then the store's steps on real LMDB stores in temp dirs; no server process.
# (Its tests with real processes are in integration/CMakeLists.txt.)
if(TARGET sakhi-server) # sakhi_storage and the harness are defined with the server
  sakhi_add_test(test_xfer_seal
    SOURCES ${CMAKE_CURRENT_LIST_DIR}/unit/test_xfer_seal.c
    LIBS sakhi_storage
    LABELS unit
    TIMEOUT 60)
  # the hub's and both centres' steps on three real stores (sk_teststore)
  sakhi_add_test(test_xfer_store
    SOURCES ${CMAKE_CURRENT_LIST_DIR}/unit/test_xfer_store.c
    LIBS sakhi_testsupport sakhi_server_core
    LABELS unit
    TIMEOUT 60)
endif()

