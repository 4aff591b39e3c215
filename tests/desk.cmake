# desk: the centre desk (server/sk_desk*.c). Unit tests of its parsers and credentials, the
# replay of its parser fuzzer's corpus, and HTTP-level tests against a real sakhi-server
# (tests/integration/test_desk_http.py, a real TLS 1.3 desk on 127.0.0.1) and in a headless
# browser (desk_browser; screenshots of each page in the build directory's desk-screenshots/).
if(NOT TARGET sakhi_server_core)
  return()
endif()

# The case note the desk adds is the casework model's operation (proto/sk_casework.c).
sakhi_add_test(test_casework_note
  SOURCES ${CMAKE_CURRENT_LIST_DIR}/unit/test_casework_note.c
  LIBS sakhi_proto
  LABELS unit)

sakhi_add_test(test_desk_form
  SOURCES ${CMAKE_CURRENT_LIST_DIR}/unit/test_desk_form.c
  LIBS sakhi_server_core
  LABELS unit)

add_executable(fuzz_desk_form_replay
  ${CMAKE_CURRENT_LIST_DIR}/fuzz/fuzz_desk_form.c ${CMAKE_CURRENT_LIST_DIR}/fuzz/replay_main.c)
target_link_libraries(fuzz_desk_form_replay PRIVATE sakhi_server_core sakhi_warnings)
add_test(NAME fuzz_desk_form_replay
  COMMAND fuzz_desk_form_replay ${CMAKE_CURRENT_LIST_DIR}/fuzz/corpus_desk_form)
set_tests_properties(fuzz_desk_form_replay PROPERTIES LABELS "fuzz-smoke" TIMEOUT 120)

if(SAKHI_FUZZ)
  add_executable(fuzz_desk_form ${CMAKE_CURRENT_LIST_DIR}/fuzz/fuzz_desk_form.c
    ${PROJECT_SOURCE_DIR}/server/sk_desk_form.c ${PROJECT_SOURCE_DIR}/server/sk_desk_html.c
    ${PROJECT_SOURCE_DIR}/server/sk_desk_opform.c)
  target_include_directories(fuzz_desk_form PRIVATE ${PROJECT_SOURCE_DIR}/server
                             ${PROJECT_SOURCE_DIR}/proto)
  target_compile_definitions(fuzz_desk_form PRIVATE _DEFAULT_SOURCE _POSIX_C_SOURCE=200809L)
  target_compile_options(fuzz_desk_form PRIVATE -fsanitize=fuzzer,address,undefined
                         -fno-sanitize-recover=all -fno-omit-frame-pointer -g)
  target_link_options(fuzz_desk_form PRIVATE -fsanitize=fuzzer,address,undefined)
  target_link_libraries(fuzz_desk_form PRIVATE sakhi_proto PkgConfig::MSGPACK sakhi_warnings)
endif()

# A field device's offline edit (libsakhi), for the conflict review in the desk's tests.
if(TARGET sakhi)
  add_executable(desk_edit_village ${CMAKE_CURRENT_LIST_DIR}/integration/desk_edit_village.c)
  target_link_libraries(desk_edit_village PRIVATE sakhi sakhi_warnings)
  set_target_properties(desk_edit_village PROPERTIES RUNTIME_OUTPUT_DIRECTORY
                        ${PROJECT_BINARY_DIR}/tests)
endif()

find_package(Python3 COMPONENTS Interpreter)
if(Python3_Interpreter_FOUND AND TARGET sakhi-admin AND TARGET sakhi-cli)
  add_test(NAME desk_http
    COMMAND ${Python3_EXECUTABLE} ${CMAKE_CURRENT_LIST_DIR}/integration/test_desk_http.py
            ${PROJECT_BINARY_DIR})
  set_tests_properties(desk_http PROPERTIES LABELS "integration" TIMEOUT 300)
  # Every casework step from the case page, through the casework API (sk_caseops.h).
  add_test(NAME desk_casework
    COMMAND ${Python3_EXECUTABLE} ${CMAKE_CURRENT_LIST_DIR}/integration/test_desk_casework.py
            ${PROJECT_BINARY_DIR})
  set_tests_properties(desk_casework PROPERTIES LABELS "integration" TIMEOUT 300)
  # The administrator's pages: devices and workers, enrollment with a QR code, revocation.
  add_test(NAME desk_admin
    COMMAND ${Python3_EXECUTABLE} ${CMAKE_CURRENT_LIST_DIR}/integration/test_desk_admin.py
            ${PROJECT_BINARY_DIR})
  set_tests_properties(desk_admin PROPERTIES LABELS "integration" TIMEOUT 300)

  # The browser test: Debian's chromium and chromedriver driven by python3-selenium, which is
  # Debian's python's module (a python3 from elsewhere first on PATH may lack it). Without the
  # three the test fails and says what to install (scripts/setup-deps.sh installs them).
  set(SAKHI_SELENIUM_PYTHON /usr/bin/python3)
  foreach(py ${Python3_EXECUTABLE} /usr/bin/python3)
    execute_process(COMMAND ${py} -c "import selenium" RESULT_VARIABLE sel_rc
                    OUTPUT_QUIET ERROR_QUIET)
    if(sel_rc EQUAL 0)
      set(SAKHI_SELENIUM_PYTHON ${py})
      break()
    endif()
  endforeach()
  add_test(NAME desk_browser
    COMMAND ${SAKHI_SELENIUM_PYTHON} ${CMAKE_CURRENT_LIST_DIR}/integration/test_desk_browser.py
            ${PROJECT_BINARY_DIR})
  set_tests_properties(desk_browser PROPERTIES LABELS "integration;browser" TIMEOUT 600
                       RUN_SERIAL TRUE)
endif()
