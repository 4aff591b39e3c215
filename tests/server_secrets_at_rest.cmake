# server_secrets_at_rest: the server's secrets kept apart - the master key in the keys
# directory beside the data directory (never in it; an old layout is moved at the first start),
# backups sealed to the backup public key by default with neither the master key in clear nor
# referral text, restore with the private key, a wrong key / flipped byte / truncation refused
# with nothing written. The real sakhi-server and sakhi-admin on a temp centre. (Named after
# server.cmake, which defines the test support library it needs.)
if(TARGET sakhi_testsupport AND TARGET sakhi-admin AND TARGET sakhi-server)
  sakhi_add_test(test_backup_sealed
    SOURCES ${CMAKE_CURRENT_LIST_DIR}/integration/test_backup_sealed.c
    LIBS sakhi_testsupport
    LABELS integration
    TIMEOUT 300)
  add_dependencies(test_backup_sealed sakhi-admin sakhi-server)
endif()
