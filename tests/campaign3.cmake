# campaign3: issue 9's campaign 5, clock skew (docs/PROTOCOL.md 5.3 and 5.5): two devices of one
# worker with clocks days ahead and behind edit the same field of the same record offline; the
# server's winner follows the skew-corrected stamps, the record is flagged for review, the
# history keeps every overwritten value, and both devices converge.
if(TARGET sakhi AND TARGET sakhi-server)
  sakhi_add_test(test_campaign_skew
    SOURCES ${CMAKE_CURRENT_LIST_DIR}/campaign/test_campaign_skew.c
    LIBS sakhi_static sakhi_testsupport Threads::Threads
    LABELS integration fault
    TIMEOUT 120)
  add_dependencies(test_campaign_skew sakhi-server)
endif()
