# schema: the form libsakhi describes (fields, types, limits, required rules, enumerations) and
# its label and message catalogs in English, Hindi, Urdu and Ladakhi. Links the static library
# for the case-model header it checks the schema against.
if(TARGET sakhi_static)
  sakhi_add_test(test_schema
    SOURCES ${CMAKE_CURRENT_LIST_DIR}/unit/test_schema.c
    LIBS sakhi_static
    LABELS unit
    TIMEOUT 60)
endif()

# The form example prints the capture form from the schema: checked in Hindi line by line.
if(TARGET sakhi-example-form AND NOT CMAKE_CROSSCOMPILING)
  add_test(NAME test_example_schema_form
    COMMAND sh -c "out=$(\"$0\" hi) || exit 1; echo \"$out\" | head -n 3 >&2; \
[ \"$(echo \"$out\" | head -n 3)\" = \"$(printf 'ज़िला *\\n  1 लेह\\n  2 कारगिल')\" ] && \
echo \"$out\" | grep -qx 'नाम \\* \\[up to 128 characters\\]' && \
echo \"$out\" | grep -qx 'उम्र (वर्ष) (required when age_band absent)' && \
[ \"$(echo \"$out\" | tail -n 1)\" = 'नाम: खाली नहीं हो सकता' ]"
            $<TARGET_FILE:sakhi-example-form>)
  set_tests_properties(test_example_schema_form PROPERTIES LABELS unit TIMEOUT 30)
endif()

# `sakhi capture` on a pseudo-terminal: prompts from the schema in Hindi, never an endless prompt.
if(TARGET sakhi-cli AND NOT CMAKE_CROSSCOMPILING)
  add_test(NAME test_cli_prompts
    COMMAND python3 ${CMAKE_CURRENT_LIST_DIR}/integration/cli-prompts.py $<TARGET_FILE:sakhi-cli>)
  set_tests_properties(test_cli_prompts PROPERTIES LABELS integration TIMEOUT 120)
endif()

# Never stuck: a rejected change shown in the worker's language, fixed or discarded.
if(TARGET sakhi AND TARGET sakhi-server)
  sakhi_add_test(test_client_rejected_lang
    SOURCES ${CMAKE_CURRENT_LIST_DIR}/integration/test_client_rejected_lang.c
    LIBS sakhi_static sakhi_testsupport Threads::Threads
    LABELS integration
    TIMEOUT 120)
endif()
