# shred: crypto-shredding on the device (docs/SECURITY.md, "Erasure"). A field device syncs
# canary referrals to a real sakhi-server on 127.0.0.1, sakhi-admin erases one, the device syncs:
# the record is gone, its sealed bytes no longer open with the PIN and the live key file, and
# no file of the store holds a canary. Links the static library for the store's internals.
if(TARGET sakhi_static AND TARGET sakhi-server AND TARGET sakhi-admin)
  sakhi_add_test(test_client_shred
    SOURCES ${CMAKE_CURRENT_LIST_DIR}/integration/test_client_shred.c
    LIBS sakhi_static sakhi_testsupport Threads::Threads
    LABELS integration
    TIMEOUT 120)
  target_compile_definitions(test_client_shred PRIVATE
    SAKHI_ADMIN_BIN="$<TARGET_FILE:sakhi-admin>")
  add_dependencies(test_client_shred sakhi-admin)
endif()
