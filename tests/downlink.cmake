# downlink: what a device receives after it pushes (PROTOCOL.md 3.6 and 3.8, SK_CAP_ECHO): the
# server's fields in the ack, [id, version] in the pull, the bytes a 50-referral push sync
# receives. Real sakhi-server processes on 127.0.0.1; links the static library for its test
# hook and local store. The referrals are varied ones made by scripts/gen-referrals.py at build
# time (seed 7; the compression dictionary is trained on seed 1).
set(SAKHI_VARIED_SAMPLE ${CMAKE_CURRENT_BINARY_DIR}/varied-referrals-seed7.json)
add_custom_command(OUTPUT ${SAKHI_VARIED_SAMPLE}
  COMMAND /usr/bin/python3 ${PROJECT_SOURCE_DIR}/scripts/gen-referrals.py --seed 7 --count 1000
          --out ${SAKHI_VARIED_SAMPLE}
  DEPENDS ${PROJECT_SOURCE_DIR}/scripts/gen-referrals.py
  COMMENT "Generating varied referrals (seed 7)")
add_custom_target(sakhi_varied_sample DEPENDS ${SAKHI_VARIED_SAMPLE})

if(TARGET sakhi_static AND TARGET sakhi-server AND TARGET sakhi_toolkit)
  sakhi_add_test(test_downlink
    SOURCES ${CMAKE_CURRENT_LIST_DIR}/integration/test_downlink.c
    LIBS sakhi_testsupport sakhi_static sakhi_toolkit Threads::Threads
    LABELS integration
    TIMEOUT 180)
  target_compile_definitions(test_downlink PRIVATE SAKHI_VARIED_SAMPLE="${SAKHI_VARIED_SAMPLE}")
  add_dependencies(test_downlink sakhi_varied_sample)
endif()
