# record: unit tests for the MessagePack validator/reader, framing, the record model and its
# wire codec, the merge function, device authentication and the record-key file (all in
# proto/).
foreach(t test_mp test_frame test_record test_merge test_auth test_keyring)
  if(EXISTS ${CMAKE_CURRENT_LIST_DIR}/unit/${t}.c)
    sakhi_add_test(${t}
      SOURCES ${CMAKE_CURRENT_LIST_DIR}/unit/${t}.c
      LIBS sakhi_keyring sakhi_proto
      LABELS unit
      TIMEOUT 60)
  endif()
endforeach()
