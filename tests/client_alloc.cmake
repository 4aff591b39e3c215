# client_alloc: a libsakhi handle opened with allocator hooks allocates everything of its own
# through them (docs/CLIENT-API.md, "Memory"): a device's life against a real sakhi-server over
# TLS with counting hooks, the C library's allocator never called from the library's code, and
# every allocation failing in turn without a leak or a lost referral. Linked with the static
# library, so the library's code is the program's own.
if(TARGET sakhi_static AND TARGET sakhi-server)
  sakhi_add_test(test_client_alloc_hooks
    SOURCES ${CMAKE_CURRENT_LIST_DIR}/integration/test_client_alloc_hooks.c
    LIBS sakhi_static sakhi_testsupport Threads::Threads
    LABELS integration
    TIMEOUT 300)
  target_link_options(test_client_alloc_hooks PRIVATE
    -Wl,--wrap=malloc,--wrap=calloc,--wrap=realloc,--wrap=free,--wrap=strdup,--wrap=strndup)
endif()
