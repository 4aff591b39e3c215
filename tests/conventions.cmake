# Project conventions that a script holds the tree to (docs/DEVELOPING.md).
add_test(NAME commit_message_rules
         COMMAND bash ${CMAKE_CURRENT_SOURCE_DIR}/conventions/test-commit-rules.sh)
set_tests_properties(commit_message_rules PROPERTIES LABELS "unit" TIMEOUT 60)

# No import cycle between modules and no layer reached past (docs/DEVELOPING.md, "Layout and
# dependency direction"): scripts/check-cycles.py over the tree, and over trees made to fail it.
add_test(NAME import_cycles_and_layers
         COMMAND bash ${CMAKE_CURRENT_SOURCE_DIR}/conventions/test-check-cycles.sh)
set_tests_properties(import_cycles_and_layers PROPERTIES LABELS "unit" TIMEOUT 60)

# No unbounded string writes (strcpy, strcat, sprintf, vsprintf, gets) anywhere in the C tree and
# no file or socket I/O in proto/: scripts/check-conventions.sh over the tree and over a tree
# made to fail it.
add_test(NAME c_conventions
         COMMAND bash ${CMAKE_CURRENT_SOURCE_DIR}/conventions/test-check-conventions.sh)
set_tests_properties(c_conventions PROPERTIES LABELS "unit" TIMEOUT 60)

# The offline tools do not link the server core (sessions, listener, writer, libuv): their link
# lines and their symbols, read from the build.
if(TARGET sakhi-admin AND TARGET sakhi-load)
  add_test(NAME tools_without_server_core
           COMMAND bash ${CMAKE_CURRENT_SOURCE_DIR}/conventions/test-tool-links.sh
                   ${PROJECT_BINARY_DIR})
  set_tests_properties(tools_without_server_core PROPERTIES LABELS "unit" TIMEOUT 60)
endif()
