# Project conventions that a script holds the tree to: commit messages (docs/DEVELOPING.md).
add_test(NAME commit_message_rules
         COMMAND bash ${CMAKE_CURRENT_SOURCE_DIR}/conventions/test-commit-rules.sh)
set_tests_properties(commit_message_rules PROPERTIES LABELS "unit" TIMEOUT 60)
