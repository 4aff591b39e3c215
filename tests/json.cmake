# json: the tools' JSON writer (tools/common/sk_json.c) on containers longer than 256 elements,
# compact and pretty, read back by the tools' own strict parser.
if(TARGET sakhi_toolkit)
  sakhi_add_test(test_json_writer
    SOURCES ${CMAKE_CURRENT_LIST_DIR}/unit/test_json_writer.c
    LIBS sakhi_toolkit sakhi_proto
    LABELS unit
    TIMEOUT 60)
endif()
