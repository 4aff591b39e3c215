# field_input: text and phone numbers as workers type them (proto/sk_text.c) and the case
# model's character limits, blank names and E.164 phones (proto/sk_case.c); the client library
# trimming and normalising at capture, and the server refusing what the case model refuses.
sakhi_add_test(test_field_input
  SOURCES ${CMAKE_CURRENT_LIST_DIR}/unit/test_field_input.c
  LIBS sakhi_proto
  LABELS unit
  TIMEOUT 60)

if(TARGET sakhi AND TARGET sakhi-server)
  sakhi_add_test(test_client_field_input
    SOURCES ${CMAKE_CURRENT_LIST_DIR}/integration/test_client_field_input.c
    LIBS sakhi_static sakhi_testsupport Threads::Threads
    LABELS integration
    TIMEOUT 120)
endif()
