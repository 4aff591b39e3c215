# hub: a hub of centres (docs/REPLICATION.md, "Hub of centres").
# What of a case may leave its centre (the de-identification table), the HUB_PUSH / HUB_ACK
# codec and the hub's store of cases, on a real LMDB store in a temp dir; no server process.
if(TARGET sakhi-server) # sakhi_storage and the harness are defined with the server
  sakhi_add_test(test_hub_deid
    SOURCES ${CMAKE_CURRENT_LIST_DIR}/unit/test_hub_deid.c ${CMAKE_CURRENT_LIST_DIR}/support/sk_proc.c
    LIBS sakhi_storage
    LABELS unit
    TIMEOUT 60)
  target_compile_definitions(test_hub_deid PRIVATE _DEFAULT_SOURCE _GNU_SOURCE)
endif()

# A hub and two centres (Leh, Kargil) as real processes over TLS: the hub's figures are the
# centres' own and their sum, nothing identifying reaches it, re-sending counts once; a centre
# pushes only de-identified cases, a device cannot push to a hub at all.
if(TARGET sakhi-server AND TARGET sakhi-admin)
  sakhi_add_test(test_hub_report
    SOURCES ${CMAKE_CURRENT_LIST_DIR}/integration/test_hub_report.c
    LIBS sakhi_testsupport sakhi_toolkit
    LABELS integration
    TIMEOUT 120)
  add_dependencies(test_hub_report sakhi-admin)
endif()
