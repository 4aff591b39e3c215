# report: the centre's monthly figures (storage/sk_report.c) over a fixture month on a real LMDB
# store, and `sakhi-admin report` (table, CSV, JSON; IST and UTC months) through the executable.
if(TARGET sakhi_server_core AND TARGET sakhi-admin)
  sakhi_add_test(test_report
    SOURCES ${CMAKE_CURRENT_LIST_DIR}/integration/test_report.c
    LIBS sakhi_testsupport sakhi_server_core
    LABELS integration
    TIMEOUT 120)
  add_dependencies(test_report sakhi-admin)
endif()
