# java: the Java binding (client-lib/java). Each test class runs in one JVM under -Xcheck:jni
# with JUnit 5's console launcher from Debian's junit5 package; a -Xcheck:jni warning fails the
# test like an assertion. java_api is offline; java_sync drives a real sakhi-server over TLS
# through the java_test_server helper; java_doc_example compiles and runs the example of
# docs/CLIENT-API.md. In a sanitizer build the JVM loads the ASan runtime first (LD_PRELOAD), so
# the C side runs instrumented; leak detection stays off there (the JVM itself is not
# instrumented) and Native.debugCounts checks the binding's own allocations instead.
# sakhi_testsupport is defined in server.cmake, read after this file: test for the server.
if(TARGET sakhi_jni AND TARGET sakhi-server)
  include(UseJava)
  find_jar(SAKHI_JUNIT_CONSOLE NAMES junit-platform-console-standalone
           PATHS /usr/share/java)
  if(NOT SAKHI_JUNIT_CONSOLE)
    message(WARNING "Java tests not registered: junit-platform-console-standalone.jar not found "
                    "(Debian package junit5)")
    return()
  endif()

  add_executable(java_test_server ${PROJECT_SOURCE_DIR}/client-lib/java/test/java_test_server.c)
  target_link_libraries(java_test_server PRIVATE sakhi_testsupport sakhi_warnings)

  set(CMAKE_JAVA_COMPILE_FLAGS -encoding UTF-8 -Xlint:all -Werror)
  set(CMAKE_JAVA_INCLUDE_PATH ${SAKHI_JUNIT_CONSOLE})
  set(SAKHI_JAVA_TEST_DIR ${PROJECT_SOURCE_DIR}/client-lib/java/test/org/sakhisync)
  add_jar(sakhi_java_tests
    SOURCES ${SAKHI_JAVA_TEST_DIR}/TestSupport.java ${SAKHI_JAVA_TEST_DIR}/TestServer.java
            ${SAKHI_JAVA_TEST_DIR}/SoftKeyProvider.java
            ${SAKHI_JAVA_TEST_DIR}/ApiTest.java ${SAKHI_JAVA_TEST_DIR}/SyncTest.java
            ${SAKHI_JAVA_TEST_DIR}/BackgroundSyncTest.java
    INCLUDE_JARS sakhi_java
    OUTPUT_NAME sakhi-tests)
  add_dependencies(sakhi_java_tests sakhi_jni java_test_server)

  # The JVM must load a sanitizer runtime before anything else: possible for GCC's ASan (which
  # brings UBSan along as a dependency of the library); not for the thread sanitizer.
  set(SAKHI_JAVA_ENV "")
  if(SAKHI_SANITIZE)
    if(SAKHI_SANITIZE MATCHES "address")
      execute_process(COMMAND ${CMAKE_C_COMPILER} -print-file-name=libasan.so
                      OUTPUT_VARIABLE SAKHI_ASAN_RT OUTPUT_STRIP_TRAILING_WHITESPACE)
    endif()
    if(NOT SAKHI_SANITIZE MATCHES "address" OR NOT IS_ABSOLUTE "${SAKHI_ASAN_RT}"
       OR NOT EXISTS "${SAKHI_ASAN_RT}")
      message(STATUS "Java tests not registered with SAKHI_SANITIZE=${SAKHI_SANITIZE}: no "
                     "sanitizer runtime the JVM can preload")
      return()
    endif()
    set(SAKHI_JAVA_ENV "LD_PRELOAD=${SAKHI_ASAN_RT};ASAN_OPTIONS=detect_leaks=0:handle_segv=0:allow_user_segv_handler=1")
  endif()

  set(SAKHI_JAVA_CP
    "$<TARGET_PROPERTY:sakhi_java,JAR_FILE>:$<TARGET_PROPERTY:sakhi_java_tests,JAR_FILE>")
  foreach(class ApiTest SyncTest BackgroundSyncTest)
    string(TOLOWER ${class} lc)
    string(REPLACE "test" "" lc ${lc})
    add_test(NAME java_${lc}
      COMMAND ${Java_JAVA_EXECUTABLE} -Xcheck:jni
              -Djava.library.path=$<TARGET_FILE_DIR:sakhi_jni>
              -Dsakhi.header=${PROJECT_SOURCE_DIR}/client-lib/include/sakhi/sakhi.h
              -Dsakhi.test.server=$<TARGET_FILE:java_test_server>
              -jar ${SAKHI_JUNIT_CONSOLE} --disable-banner --details=summary
              --fail-if-no-tests --class-path ${SAKHI_JAVA_CP} --select-class org.sakhisync.${class})
    set_tests_properties(java_${lc} PROPERTIES LABELS integration TIMEOUT 240
      ENVIRONMENT "${SAKHI_JAVA_ENV}"
      FAIL_REGULAR_EXPRESSION "WARNING in native method|FATAL ERROR in native method|JNI local refs|AddressSanitizer")
  endforeach()
endif()

# The example in docs/CLIENT-API.md, compiled and run (client-lib/java/test/doc-example.sh).
if(TARGET sakhi_jni)
  add_test(NAME java_doc_example
    COMMAND sh ${PROJECT_SOURCE_DIR}/client-lib/java/test/doc-example.sh
            ${PROJECT_SOURCE_DIR}/docs/CLIENT-API.md $<TARGET_PROPERTY:sakhi_java,JAR_FILE>
            $<TARGET_FILE_DIR:sakhi_jni> ${Java_JAVA_EXECUTABLE} ${Java_JAVAC_EXECUTABLE})
  set_tests_properties(java_doc_example PROPERTIES LABELS integration TIMEOUT 120
    ENVIRONMENT "${SAKHI_JAVA_ENV}"
    FAIL_REGULAR_EXPRESSION "WARNING in native method|FATAL ERROR in native method|JNI local refs|AddressSanitizer")
endif()
