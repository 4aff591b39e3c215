# store_pin: the phone's store against an offline PIN search - PIN rules, the Argon2id cost
# measured at creation, a copied store attacked with and without a key provider, the provider's
# wrong-PIN limit across restored copies, and a store of the previous library (scrypt, the
# fixture in tests/data/store-scrypt-2468) rewrapped in place. Links the static library to play
# the attacker with its own primitives.
if(TARGET sakhi_static)
  sakhi_add_test(test_store_pin
    SOURCES ${CMAKE_CURRENT_LIST_DIR}/unit/test_store_pin.c
    LIBS sakhi_static
    LABELS unit
    TIMEOUT 120)
  target_compile_definitions(test_store_pin PRIVATE _DEFAULT_SOURCE _POSIX_C_SOURCE=200809L
                             SAKHI_TEST_DATA="${CMAKE_CURRENT_LIST_DIR}/data")
endif()
