# hub: a hub of centres (docs/REPLICATION.md, "Hub of centres").
# What of a case may leave its centre (the de-identification table), the HUB_PUSH / HUB_ACK
# codec and the hub's store of cases, on a real LMDB store in a temp dir; no server process.
# (Its tests with real processes are in integration/CMakeLists.txt.)
if(TARGET sakhi-server) # sakhi_storage and the harness are defined with the server
  sakhi_add_test(test_hub_deid
    SOURCES ${CMAKE_CURRENT_LIST_DIR}/unit/test_hub_deid.c ${CMAKE_CURRENT_LIST_DIR}/support/sk_proc.c
    LIBS sakhi_storage
    LABELS unit
    TIMEOUT 60)
  target_compile_definitions(test_hub_deid PRIVATE _DEFAULT_SOURCE _GNU_SOURCE)
endif()

