# server_secrets: the server's secrets and what its tools print - a master key with group/other
# bits or another owner is refused by the store, sakhi-server and sakhi-admin; the store's files
# are 0600; a device label with terminal escape codes prints as text (sakhi-admin device list,
# text and JSON). Real store in a temp dir, the real binaries.
if(TARGET sakhi_testsupport AND TARGET sakhi-admin AND TARGET sakhi-server)
  sakhi_add_test(test_server_secrets
    SOURCES ${CMAKE_CURRENT_LIST_DIR}/integration/test_server_secrets.c
    LIBS sakhi_testsupport sakhi_toolkit
    LABELS integration
    TIMEOUT 120)
  add_dependencies(test_server_secrets sakhi-admin sakhi-server)
endif()
